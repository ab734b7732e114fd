#include "policy/policy_lint.h"

#include <string_view>

#include "policy/glob.h"

namespace sluice {
namespace {

// Whether some text matching `glob` can start with `dir`.
bool can_reach(const std::string& glob, std::string_view dir) {
    const std::string prefix = glob_literal_prefix(glob);
    if (glob_is_literal(glob)) return prefix.starts_with(dir);
    return prefix.starts_with(dir) || dir.starts_with(prefix);
}

// Names systemd's per-user manager makes inside user@UID.service, never in the system's part.
bool user_manager_name_only(const std::string& glob) {
    const std::string prefix = glob_literal_prefix(glob);
    if (prefix.starts_with("app-")) return true;  // app-<launcher>-<id>.scope / .service / .slice
    for (const char* slice : {"app.slice", "background.slice", "session.slice"})
        if (glob_is_literal(glob) && glob == slice) return true;
    return false;
}

// A cgroup glob with a component after a user@... one: below a user's delegated subtree.
bool below_user_manager(const std::string& glob) {
    const size_t at = glob.find("user@");
    return at != std::string::npos && glob.find('/', at) != std::string::npos;
}

}  // namespace

std::vector<std::string> lint_policy(const Policy& policy) {
    std::vector<std::string> out;
    for (const PolicyRule& rule : policy.rules) {
        auto warn = [&](const std::string& text) {
            out.push_back(policy.source_name + ":" + std::to_string(rule.line) + ": rule '" +
                          rule.name + "': " + text);
        };
        const PrincipalMatch& m = rule.match;
        auto user_made_only = [&](const std::vector<std::string>& globs, const char* key,
                                  bool (*only_user_made)(const std::string&)) {
            for (const auto& glob : globs) {
                if (!only_user_made(glob)) continue;
                warn(std::string(key) + " glob '" + glob +
                     "' can only match names made inside a user's own cgroup subtree, which " +
                     key + " never matches; use user_" + key + " with users or uids");
            }
        };
        user_made_only(m.cgroups, "cgroups", below_user_manager);
        user_made_only(m.units, "units", user_manager_name_only);
        user_made_only(m.slices, "slices", user_manager_name_only);
        for (const auto& glob : m.exes) {
            std::string reach;
            if (glob_literal_prefix(glob).empty() || glob.front() != '/') {
                reach = "any directory";
            } else {
                for (const char* place : kUserWritablePlaces)
                    if (can_reach(glob, place))
                        reach += (reach.empty() ? "" : ", ") + std::string(place);
            }
            if (reach.empty()) continue;
            warn("exes glob '" + glob + "' reaches places users can write (" + reach +
                 "): a binary a user put there never matches exes (only executables root alone "
                 "could have placed do); for a user's own binaries use user_exes with users or "
                 "uids");
        }
        if (rule.record == RecordMode::full && !rule.masking)
            warn(
                "record: full keeps request and answer bodies, and the rule masks nothing: "
                "prompts are recorded as sent (add masking, or record: metadata)");
    }
    return out;
}

}  // namespace sluice
