#include "agent/gate/policy_commands.h"

#include <pwd.h>
#include <sys/stat.h>

#include <cstdio>
#include <optional>
#include <stdexcept>

#include "agent/gate/policy_file.h"
#include "agent/identity/root_only_access.h"
#include "agent/identity/user_directory.h"
#include "policy/glob.h"
#include "policy/policy_engine.h"
#include "policy/policy_lint.h"
#include "policy/prompt_text.h"

namespace sluice {

namespace {

struct ExplainQuery {
    PolicyIdentity identity;
    PolicyRequest request;
};

uint32_t parse_uid(const std::string& text) {
    size_t used = 0;
    const unsigned long value = std::stoul(text, &used);
    if (used != text.size() || value > UINT32_MAX)
        throw std::invalid_argument("--uid: not a uid: " + text);
    return static_cast<uint32_t>(value);
}

// Fills uid and groups from NSS for a named user (or the name and groups for a uid).
void complete_user(PolicyIdentity& identity, bool groups_given) {
    if (!identity.user.empty() && !identity.uid) {
        if (const passwd* entry = ::getpwnam(identity.user.c_str())) identity.uid = entry->pw_uid;
    }
    if (!identity.uid) return;
    const passwd* entry = ::getpwuid(*identity.uid);
    const UserRecord record = lookup_user(*identity.uid, entry ? entry->pw_gid : *identity.uid);
    if (identity.user.empty()) identity.user = record.name;
    if (!groups_given) identity.groups = record.groups;
}

ExplainQuery parse_explain_args(const std::vector<std::string>& args) {
    ExplainQuery query;
    query.request.method = "POST";
    query.request.path = "/v1/chat/completions";
    bool groups_given = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& flag = args[i];
        if (flag == "--stream") {
            query.request.stream = true;
            continue;
        }
        if (flag == "--approved") {  // a person approved it: require_approval is met
            query.request.approval_granted = true;
            continue;
        }
        if (i + 1 >= args.size()) throw std::invalid_argument(flag + ": needs a value");
        const std::string& value = args[++i];
        // --user-* names are what the caller made in its own delegated cgroup subtree.
        auto user_made = [&]() -> UserControlledNames& {
            if (!query.identity.user_controlled) query.identity.user_controlled.emplace();
            return *query.identity.user_controlled;
        };
        if (flag == "--user")
            query.identity.user = value;
        else if (flag == "--uid")
            query.identity.uid = parse_uid(value);
        else if (flag == "--group")
            query.identity.groups.push_back(value), groups_given = true;
        else if (flag == "--unit")
            query.identity.unit = value;
        else if (flag == "--slice")
            query.identity.slice = value;
        else if (flag == "--cgroup")
            query.identity.cgroup = value;
        else if (flag == "--container")
            query.identity.container_id = value;
        else if (flag == "--container-runtime")
            query.identity.container_runtime = value;
        else if (flag == "--container-name")
            query.identity.container_name = value;
        else if (flag == "--container-image")
            query.identity.container_image = value;
        else if (flag == "--pod")
            query.identity.pod_uid = value;
        else if (flag == "--exe")
            query.identity.exe = value, query.identity.exe_trusted = true;
        else if (flag == "--user-exe")
            query.identity.exe = value, query.identity.exe_trusted = false;
        else if (flag == "--user-unit")
            user_made().unit = value;
        else if (flag == "--user-slice")
            user_made().slice = value;
        else if (flag == "--user-cgroup")
            user_made().cgroup = value;
        else if (flag == "--user-container")
            user_made().container_id = value;
        else if (flag == "--user-pod")
            user_made().pod_uid = value;
        else if (flag == "--oidc-subject")
            query.identity.oidc = OidcIdentity{"", value, "", {}, {}};
        else if (flag == "--model")
            query.request.model = value;
        else if (flag == "--method")
            query.request.method = value;
        else if (flag == "--path")
            query.request.path = value;
        else if (flag == "--max-tokens")
            query.request.max_output_tokens = std::stoll(value);
        else if (flag == "--prompt") {
            // What blocked-prompt and approval patterns read, and the token estimate.
            query.request.texts.push_back(value);
            query.request.estimated_prompt_tokens = estimate_prompt_tokens(query.request.texts);
        } else
            throw std::invalid_argument("unknown option " + flag);
    }
    complete_user(query.identity, groups_given);
    // The caller's own subtree: explain asks about the user it names.
    if (query.identity.user_controlled)
        query.identity.user_controlled->owner_uid = query.identity.uid;
    return query;
}

// The directory part of an exes glob's literal prefix ("/opt/ci/bin/run*" -> "/opt/ci/bin").
std::string literal_directory(const std::string& glob) {
    const std::string prefix = glob_literal_prefix(glob);
    const size_t slash = prefix.rfind('/');
    return slash == std::string::npos ? "" : prefix.substr(0, slash);
}

// The half of the exes check only this host can answer: a directory on the glob's literal path
// that exists here and that a user may write.
std::vector<std::string> lint_exes_on_host(const Policy& policy) {
    std::vector<std::string> out;
    for (const PolicyRule& rule : policy.rules) {
        for (const auto& glob : rule.match.exes) {
            if (glob.empty() || glob.front() != '/') continue;
            const std::string dir = literal_directory(glob);
            std::string walked;
            size_t pos = 0;
            do {
                const size_t next = dir.find('/', pos + 1);
                walked = next == std::string::npos ? dir : dir.substr(0, next);
                pos = next;
                struct stat st {};
                if (::lstat(walked.empty() ? "/" : walked.c_str(), &st) != 0) break;
                if (writable_only_by_system(st)) continue;
                out.push_back(policy.source_name + ":" + std::to_string(rule.line) + ": rule '" +
                              rule.name + "': exes glob '" + glob + "': on this host " +
                              (walked.empty() ? "/" : walked) + " is writable by uid " +
                              std::to_string(st.st_uid) +
                              ((st.st_mode & S_IWOTH) ? " and by everyone" : "") +
                              ", so binaries below it never match exes");
                break;
            } while (pos != std::string::npos);
        }
    }
    return out;
}

// The policy names who may do what and which prompts are blocked: a reader learns how to stay
// under the patterns. sluiced reads it as root, so nobody else needs to.
std::optional<std::string> lint_file_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) return std::nullopt;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return path + " is readable by every user (mode " + mode +
           "): they can read every rule and blocked pattern (and `policy explain` it); chmod 0640";
}

}  // namespace

int run_policy_check(const std::string& path) {
    const PolicyLoadResult result = load_policy_file(path);
    if (!result.ok()) {
        std::fprintf(stderr, "%s\n", result.error.c_str());
        return 1;
    }
    for (const std::string& warning : lint_policy(*result.policy))
        std::printf("warning: %s\n", warning.c_str());
    for (const std::string& warning : lint_exes_on_host(*result.policy))
        std::printf("warning: %s\n", warning.c_str());
    if (const auto warning = lint_file_mode(path)) std::printf("warning: %s\n", warning->c_str());
    std::printf("ok: %s (%zu rules, default %s)\n", path.c_str(), result.policy->rules.size(),
                result.policy->default_allow ? "allow" : "deny");
    return 0;
}

int run_policy_explain(const std::string& path, const std::vector<std::string>& args) {
    ExplainQuery query;
    try {
        query = parse_explain_args(args);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluicectl policy explain: %s\n", e.what());
        return 2;
    }
    const PolicyLoadResult result = load_policy_file(path);
    if (!result.ok()) {
        std::fprintf(stderr, "%s\n", result.error.c_str());
        return 1;
    }
    std::fputs(explain(*result.policy, query.identity, query.request).c_str(), stdout);
    return 0;
}

}  // namespace sluice
