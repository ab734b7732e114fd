// What an approver may read of a held request's prompt (docs/approvals.md): the start of its
// last prompt text, with everything the audit would hide hidden (audit_text.h: every
// recognizer's match redacted, each rule's masking applied, a blocked pattern's text withheld).
#pragma once

#include <string>
#include <string_view>

#include "policy/policy_model.h"

namespace sluice {

inline constexpr std::size_t kPromptExcerptBytes = 200;
// Masked before it is cut, so a value at the cut is still recognized whole.
inline constexpr std::size_t kPromptExcerptScanBytes = 4096;

// "" when the body is not JSON or has no prompt text. `policy` may be null.
std::string masked_prompt_excerpt(const Policy* policy, std::string_view body,
                                  std::string_view path);

}  // namespace sluice
