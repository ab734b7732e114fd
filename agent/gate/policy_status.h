// The policy part of `sluicectl status`: which file is in force, the last refused reload, and
// each budget account's use today.
#pragma once

#include <nlohmann/json.hpp>

#include "agent/gate/policy_store.h"
#include "policy/policy_state.h"

namespace sluice {

nlohmann::json policy_status_json(const PolicyStore& policies, const PolicyState& state);

}  // namespace sluice
