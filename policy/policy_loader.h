// Loads and validates a policy from YAML text. The agent reads the file and passes the text;
// this library never touches the filesystem. The whole policy is refused on the first problem
// with one line naming source, line and key:
//   policy.yaml:12: rules[2].models.allow: not a list
// Unknown keys, bad types, malformed globs and regexes that RE2 rejects are all refused.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "policy/policy_model.h"

namespace sluice {

struct PolicyLoadOptions {
    // Answers UTC offsets for budget time zones; zones it does not know are refused at load.
    // Default: fixed_offset_resolver() (UTC and "+hh:mm" only); the agent passes tzif_resolver.
    UtcOffsetResolver offsets;
};

struct PolicyLoadResult {
    std::shared_ptr<const Policy> policy;  // null on error
    std::string error;                     // one line, empty on success
    bool ok() const { return policy != nullptr; }
};

PolicyLoadResult load_policy(std::string_view yaml, std::string_view source_name);
PolicyLoadResult load_policy(std::string_view yaml, std::string_view source_name,
                             const PolicyLoadOptions& options);

}  // namespace sluice
