// `sluicectl policy check FILE` and `sluicectl policy explain ...`: run against the file on disk,
// no daemon needed, so a change can be checked before it is installed.
#pragma once

#include <string>
#include <vector>

namespace sluice {

// Prints "ok: ..." and returns 0, or prints the one-line error to stderr and returns 1.
int run_policy_check(const std::string& path);

// Arguments after "explain": --user U | --uid N, --group G (repeatable), --unit X, --cgroup P,
// --container ID, --exe PATH, --oidc-subject S, --model M, --method VERB (default POST),
// --path P (default /v1/chat/completions), --max-tokens N, --stream. The user's groups come
// from NSS unless --group is given. Prints the decision, the rule and each step; returns 0,
// or 2 on a usage error, 1 when the policy does not load.
int run_policy_explain(const std::string& path, const std::vector<std::string>& args);

}  // namespace sluice
