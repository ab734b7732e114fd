// Texts the audit keeps that the client chose — the command line of the calling process, the
// model it named — held to what the policy refuses to send: an audit must not keep what the
// policy would not let leave (docs/masking.md, "Audit").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "policy/policy_model.h"

namespace sluice {

// Every recognizer's match (built-in entities, and each rule's own patterns) redacted on the
// folded view; then, if a blocked prompt pattern of the policy (global or any rule's) still
// matches the text or its folded view, the text is withheld: its first word (the program),
// the pattern's name and a SHA-256 prefix of the original. `policy` may be null.
std::string audit_safe_text(const Policy* policy, std::string_view text);

// The same for a model's name, remembered per thread for the last few names under one policy:
// a host asks for the same few models on every request.
std::string audit_safe_model(const std::shared_ptr<const Policy>& policy, std::string_view model);

}  // namespace sluice
