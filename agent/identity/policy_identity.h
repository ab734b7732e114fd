// The part of a connection's Identity that policy matches on.
#pragma once

#include "agent/identity/identity.h"
#include "policy/policy_model.h"

namespace sluice {

PolicyIdentity to_policy_identity(const Identity& identity);

}  // namespace sluice
