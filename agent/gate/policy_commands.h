// `sluicectl policy check FILE` and `sluicectl policy explain ...`: run against the file on disk,
// no daemon needed, so a change can be checked before it is installed.
#pragma once

#include <string>
#include <vector>

namespace sluice {

// Prints "ok: ..." and returns 0, or prints the one-line error to stderr and returns 1. Before
// "ok", one "warning: FILE:LINE: rule 'NAME': ..." line per rule that cannot do what it seems
// to (policy_lint.h; and exes globs under directories a user may write on this host).
int run_policy_check(const std::string& path);

// Arguments after "explain": --user U | --uid N, --group G (repeatable), --unit X, --slice S,
// --cgroup P, --container ID, --pod UID, --exe PATH (an executable root alone could have
// placed), --user-exe PATH (one the user could have), --user-unit X, --user-slice S,
// --user-cgroup P, --user-container ID, --user-pod UID (names the user made in its own
// delegated cgroup subtree), --oidc-subject S, --model M, --method VERB (default POST),
// --path P (default /v1/chat/completions), --max-tokens N, --stream. The user's groups come
// from NSS unless --group is given. Prints the decision, the rule and each step; returns 0,
// or 2 on a usage error, 1 when the policy does not load.
int run_policy_explain(const std::string& path, const std::vector<std::string>& args);

}  // namespace sluice
