#include "policy/policy_loader.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <initializer_list>
#include <set>
#include <stdexcept>

#include "policy/ascii_case.h"
#include "policy/glob.h"
#include "policy/masking/masking_config.h"
#include "policy/rule_index.h"
#include "policy/tool_calls/tool_call_control.h"

namespace sluice {

namespace {

// More distinct approvers than a team has would hold every request until it times out.
constexpr int64_t kMaxMinApprovers = 10;

struct LoadError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Loader {
public:
    Loader(std::string_view source, UtcOffsetResolver offsets)
        : source_(source), offsets_(std::move(offsets)) {}

    std::shared_ptr<Policy> load(const YAML::Node& root);

    [[noreturn]] void fail(const YAML::Node& at, const std::string& path,
                           const std::string& message) const {
        int line = at.IsDefined() ? at.Mark().line : -1;
        std::string where = source_;
        if (line >= 0) where += ":" + std::to_string(line + 1);
        throw LoadError(where + ": " + (path.empty() ? "" : path + ": ") + message);
    }

private:
    void check_keys(const YAML::Node& node, const std::string& path,
                    std::initializer_list<const char*> allowed) const;
    void require_map(const YAML::Node& node, const std::string& path) const;
    std::string scalar(const YAML::Node& node, const std::string& path) const;
    int64_t positive_int(const YAML::Node& node, const std::string& path) const;
    double non_negative_number(const YAML::Node& node, const std::string& path) const;
    bool boolean(const YAML::Node& node, const std::string& path) const;
    std::vector<std::string> string_list(const YAML::Node& node, const std::string& path) const;
    std::vector<std::string> glob_list(const YAML::Node& node, const std::string& path) const;
    FailMode fail_mode(const YAML::Node& parent, const std::string& path) const;
    PrincipalKey principal_key(const YAML::Node& parent, const std::string& path) const;
    std::string zone(const YAML::Node& node, const std::string& path) const;

    PrincipalMatch match(const YAML::Node& node, const std::string& path) const;
    std::vector<EndpointPattern> endpoints(const YAML::Node& node, const std::string& path) const;
    std::shared_ptr<const PromptPatternSet> prompt_patterns(const YAML::Node& node,
                                                            const std::string& path) const;
    PromptBlockControl block_prompts(const YAML::Node& node, const std::string& path) const;
    ApprovalControl require_approval(const YAML::Node& node, const std::string& path) const;
    OidcBindingControl oidc_binding(const YAML::Node& node, const std::string& path) const;
    std::shared_ptr<const ToolCallControl> tool_calls(const YAML::Node& node,
                                                      const std::string& path) const;
    PolicyRule rule(const YAML::Node& node, size_t index) const;

    std::string source_;
    UtcOffsetResolver offsets_;
    std::string default_timezone_ = "UTC";
    std::map<std::string, std::vector<PromptPatternSet::Pattern>> pattern_sets_;
    std::vector<masking::CustomPattern> masking_patterns_;
};

std::string join(std::initializer_list<const char*> names) {
    std::string out;
    for (const auto* name : names) {
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out;
}

void Loader::require_map(const YAML::Node& node, const std::string& path) const {
    if (!node.IsMap()) fail(node, path, "not a map");
}

void Loader::check_keys(const YAML::Node& node, const std::string& path,
                        std::initializer_list<const char*> allowed) const {
    require_map(node, path);
    std::set<std::string> seen;
    for (const auto& entry : node) {
        if (!entry.first.IsScalar()) fail(entry.first, path, "keys must be strings");
        auto key = entry.first.Scalar();
        bool known = false;
        for (const auto* name : allowed) known = known || key == name;
        auto key_path = path.empty() ? key : path + "." + key;
        if (!known)
            fail(entry.first, key_path, "unknown key (expected one of: " + join(allowed) + ")");
        if (!seen.insert(key).second) fail(entry.first, key_path, "duplicate key");
    }
}

std::string Loader::scalar(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "not a string");
    return node.Scalar();
}

int64_t Loader::positive_int(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "not an integer");
    int64_t value = 0;
    try {
        value = node.as<int64_t>();
    } catch (const YAML::Exception&) {
        fail(node, path, "not an integer: '" + node.Scalar() + "'");
    }
    if (value <= 0) fail(node, path, "must be positive");
    // Keeps bucket and budget arithmetic far from int64 overflow.
    if (value > 1'000'000'000'000) fail(node, path, "too large");
    return value;
}

double Loader::non_negative_number(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "not a number");
    double value = 0;
    try {
        value = node.as<double>();
    } catch (const YAML::Exception&) {
        fail(node, path, "not a number: '" + node.Scalar() + "'");
    }
    if (!std::isfinite(value) || value < 0 || value > 1e6)
        fail(node, path, "must be between 0 and 1000000");
    return value;
}

bool Loader::boolean(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) fail(node, path, "not a boolean");
    const auto& text = node.Scalar();
    if (text == "true") return true;
    if (text == "false") return false;
    fail(node, path, "not a boolean (true or false): '" + text + "'");
}

std::vector<std::string> Loader::string_list(const YAML::Node& node,
                                             const std::string& path) const {
    if (!node.IsSequence()) fail(node, path, "not a list");
    std::vector<std::string> out;
    for (size_t i = 0; i < node.size(); ++i)
        out.push_back(scalar(node[i], path + "[" + std::to_string(i) + "]"));
    return out;
}

std::vector<std::string> Loader::glob_list(const YAML::Node& node, const std::string& path) const {
    auto globs = string_list(node, path);
    for (size_t i = 0; i < globs.size(); ++i)
        if (auto error = glob_error(globs[i]))
            fail(node[i], path + "[" + std::to_string(i) + "]", *error);
    return globs;
}

FailMode Loader::fail_mode(const YAML::Node& parent, const std::string& path) const {
    auto node = parent["fail_mode"];
    if (!node) return FailMode::closed;
    auto text = scalar(node, path + ".fail_mode");
    if (text == "closed") return FailMode::closed;
    if (text == "open") return FailMode::open;
    fail(node, path + ".fail_mode", "must be closed or open, not '" + text + "'");
}

PrincipalKey Loader::principal_key(const YAML::Node& parent, const std::string& path) const {
    auto node = parent["per"];
    if (!node) return PrincipalKey::user;
    auto text = scalar(node, path + ".per");
    static const std::pair<const char*, PrincipalKey> kKeys[] = {
        {"rule", PrincipalKey::rule},           {"user", PrincipalKey::user},
        {"unit", PrincipalKey::unit},           {"cgroup", PrincipalKey::cgroup},
        {"container", PrincipalKey::container}, {"exe", PrincipalKey::exe},
        {"subject", PrincipalKey::subject}};
    for (const auto& [name, key] : kKeys)
        if (text == name) return key;
    fail(node, path + ".per",
         "must be one of rule, user, unit, cgroup, container, exe, subject; not '" + text + "'");
}

std::string Loader::zone(const YAML::Node& node, const std::string& path) const {
    auto name = scalar(node, path);
    if (!offsets_(name, std::chrono::sys_seconds{}))
        fail(node, path, "unknown time zone '" + name + "'");
    return name;
}

PrincipalMatch Loader::match(const YAML::Node& node, const std::string& path) const {
    check_keys(node, path,
               {"users", "uids", "groups", "cgroups", "units", "slices", "containers",
                "container_runtimes", "container_names", "container_images", "pods", "exes",
                "user_cgroups", "user_units", "user_slices", "user_containers", "user_pods",
                "user_exes", "oidc"});
    PrincipalMatch m;
    if (auto n = node["users"]) m.users = string_list(n, path + ".users");
    if (auto n = node["uids"]) {
        if (!n.IsSequence()) fail(n, path + ".uids", "not a list");
        for (size_t i = 0; i < n.size(); ++i) {
            auto item_path = path + ".uids[" + std::to_string(i) + "]";
            if (!n[i].IsScalar()) fail(n[i], item_path, "not an integer");
            try {
                m.uids.push_back(n[i].as<uint32_t>());
            } catch (const YAML::Exception&) {
                fail(n[i], item_path, "not a uid: '" + n[i].Scalar() + "'");
            }
        }
    }
    if (auto n = node["groups"]) m.groups = string_list(n, path + ".groups");
    for (const auto& key : kPrincipalGlobKeys) {
        const std::string name(key.name);
        auto n = node[name];
        if (!n) continue;
        m.*key.globs = glob_list(n, path + "." + name);
        // A user names their own cgroups and places their own binaries: such a name says
        // something only about the user who made it, so the rule must say which user.
        if (key.user_made && m.users.empty() && m.uids.empty())
            fail(n, path + "." + name,
                 "names a user chooses match only together with that user: add users or uids");
    }
    if (auto oidc = node["oidc"]) {
        auto oidc_path = path + ".oidc";
        check_keys(oidc, oidc_path, {"subjects", "emails", "groups", "claims"});
        m.has_oidc = true;
        if (auto n = oidc["subjects"]) m.oidc_subjects = glob_list(n, oidc_path + ".subjects");
        if (auto n = oidc["emails"]) m.oidc_emails = glob_list(n, oidc_path + ".emails");
        if (auto n = oidc["groups"]) m.oidc_groups = string_list(n, oidc_path + ".groups");
        if (auto claims = oidc["claims"]) {
            require_map(claims, oidc_path + ".claims");
            for (const auto& entry : claims) {
                auto name = scalar(entry.first, oidc_path + ".claims");
                m.oidc_claims.emplace_back(name,
                                           glob_list(entry.second, oidc_path + ".claims." + name));
            }
        }
    }
    return m;
}

std::vector<EndpointPattern> Loader::endpoints(const YAML::Node& node,
                                               const std::string& path) const {
    auto items = string_list(node, path);
    std::vector<EndpointPattern> out;
    for (size_t i = 0; i < items.size(); ++i) {
        auto item_path = path + "[" + std::to_string(i) + "]";
        EndpointPattern pattern;
        pattern.text = items[i];
        auto space = items[i].find(' ');
        if (space == std::string::npos) {
            pattern.method = "*";
            pattern.path = items[i];
        } else {
            pattern.method = items[i].substr(0, space);
            pattern.path =
                items[i].substr(items[i].find_first_not_of(' ', space) == std::string::npos
                                    ? items[i].size()
                                    : items[i].find_first_not_of(' ', space));
        }
        if (pattern.path.empty() || (pattern.path[0] != '/' && pattern.path[0] != '*'))
            fail(node[i], item_path, "expected \"[METHOD] /path-glob\", got '" + items[i] + "'");
        if (auto error = glob_error(pattern.method)) fail(node[i], item_path, *error);
        if (auto error = glob_error(pattern.path)) fail(node[i], item_path, *error);
        // Matched without regard to case (find_endpoint): an upstream may route
        // "/V1/Embeddings" as "/v1/embeddings", so the policy must see them as one.
        pattern.method = ascii_lower(pattern.method);
        pattern.path = ascii_lower(pattern.path);
        out.push_back(std::move(pattern));
    }
    return out;
}

// The `sets` and inline `patterns` of a prompt control, compiled as one set.
std::shared_ptr<const PromptPatternSet> Loader::prompt_patterns(const YAML::Node& node,
                                                                const std::string& path) const {
    std::vector<PromptPatternSet::Pattern> patterns;
    if (auto sets = node["sets"]) {
        auto names = string_list(sets, path + ".sets");
        for (size_t i = 0; i < names.size(); ++i) {
            auto it = pattern_sets_.find(names[i]);
            if (it == pattern_sets_.end())
                fail(sets[i], path + ".sets[" + std::to_string(i) + "]",
                     "no pattern set named '" + names[i] + "'");
            patterns.insert(patterns.end(), it->second.begin(), it->second.end());
        }
    }
    if (auto inline_patterns = node["patterns"]) {
        auto regexes = string_list(inline_patterns, path + ".patterns");
        for (size_t i = 0; i < regexes.size(); ++i) {
            auto item_path = path + ".patterns[" + std::to_string(i) + "]";
            if (auto error = regex_error(regexes[i]))
                fail(inline_patterns[i], item_path, "bad regex '" + regexes[i] + "': " + *error);
            patterns.push_back({item_path, regexes[i]});
        }
    }
    std::string error;
    auto compiled = PromptPatternSet::compile(std::move(patterns), error);
    if (!compiled) fail(node, path, error);
    return compiled;
}

PromptBlockControl Loader::block_prompts(const YAML::Node& node, const std::string& path) const {
    check_keys(node, path, {"sets", "patterns", "fail_mode"});
    PromptBlockControl control;
    control.fail_mode = fail_mode(node, path);
    control.patterns = prompt_patterns(node, path);
    return control;
}

// `require_approval: true`, or a map of conditions any one of which holds the request, and
// how many approvers must approve (`min_approvers` alone: every request, by that many).
ApprovalControl Loader::require_approval(const YAML::Node& node, const std::string& path) const {
    ApprovalControl control;
    if (!node.IsMap()) return control;
    check_keys(node, path, {"sets", "patterns", "min_prompt_tokens", "min_approvers"});
    if (node["sets"] || node["patterns"]) control.prompts = prompt_patterns(node, path);
    if (auto n = node["min_prompt_tokens"])
        control.min_prompt_tokens = positive_int(n, path + ".min_prompt_tokens");
    if (auto n = node["min_approvers"]) {
        const int64_t count = positive_int(n, path + ".min_approvers");
        if (count > kMaxMinApprovers)
            fail(n, path + ".min_approvers", "must be at most " + std::to_string(kMaxMinApprovers));
        control.min_approvers = static_cast<int>(count);
    }
    if (!control.conditional() && !node["min_approvers"])
        fail(node, path,
             "needs a condition (sets, patterns, min_prompt_tokens) or min_approvers, or use "
             "'true'");
    return control;
}

OidcBindingControl Loader::oidc_binding(const YAML::Node& node, const std::string& path) const {
    check_keys(node, path, {"claim", "users", "required"});
    OidcBindingControl control;
    if (auto n = node["claim"]) {
        control.claim = scalar(n, path + ".claim");
        if (control.claim.empty()) fail(n, path + ".claim", "must be non-empty (sub, email, ...)");
    }
    if (auto users = node["users"]) {
        require_map(users, path + ".users");
        for (const auto& entry : users) {
            auto user = scalar(entry.first, path + ".users");
            auto user_path = path + ".users." + user;
            if (user.empty()) fail(entry.first, path + ".users", "empty user name");
            auto globs = glob_list(entry.second, user_path);
            if (globs.empty())
                fail(entry.second, user_path, "empty list (to refuse this user, use action: deny)");
            if (!control.users.emplace(user, std::move(globs)).second)
                fail(entry.first, user_path, "duplicate key");
        }
    }
    if (auto n = node["required"]) control.required = boolean(n, path + ".required");
    return control;
}

std::shared_ptr<const ToolCallControl> Loader::tool_calls(const YAML::Node& node,
                                                          const std::string& path) const {
    if (!node.IsSequence() || node.size() == 0)
        fail(node, path, "needs a non-empty list of entries");
    auto control = std::make_shared<ToolCallControl>();
    auto argument_path = [&](const YAML::Node& at, const std::string& at_path) {
        ArgumentCondition condition;
        condition.path = scalar(at, at_path);
        auto members = parse_argument_path(condition.path);
        if (!members)
            fail(at, at_path, "'" + condition.path + "' is not a path like $.command or $.a.b");
        condition.members = std::move(*members);
        return condition;
    };
    for (std::size_t i = 0; i < node.size(); ++i) {
        const YAML::Node entry_node = node[i];
        const std::string p = path + "[" + std::to_string(i) + "]";
        check_keys(entry_node, p, {"tools", "arguments", "where", "action", "redact"});
        ToolCallEntry entry;
        if (auto n = entry_node["tools"]) entry.tools = glob_list(n, p + ".tools");
        if (auto n = entry_node["arguments"]) {
            check_keys(n, p + ".arguments", {"sets", "patterns"});
            entry.arguments = prompt_patterns(n, p + ".arguments");
        }
        if (auto n = entry_node["where"]) {
            require_map(n, p + ".where");
            for (const auto& item : n) {
                ArgumentCondition condition = argument_path(item.first, p + ".where");
                const std::string at = p + ".where." + condition.path;
                const std::string regex = scalar(item.second, at);
                if (auto error = regex_error(regex))
                    fail(item.second, at, "bad regex '" + regex + "': " + *error);
                condition.pattern = std::make_shared<const re2::RE2>(regex);
                entry.where.push_back(std::move(condition));
            }
        }
        const std::string action =
            entry_node["action"] ? scalar(entry_node["action"], p + ".action") : "";
        if (action == "allow")
            entry.action = ToolCallAction::allow;
        else if (action == "deny")
            entry.action = ToolCallAction::deny;
        else if (action == "redact")
            entry.action = ToolCallAction::redact;
        else if (action == "require_approval")
            entry.action = ToolCallAction::require_approval;
        else
            fail(entry_node, p + ".action", "must be allow, deny, redact or require_approval");
        if (auto n = entry_node["redact"]) {
            if (entry.action != ToolCallAction::redact)
                fail(n, p + ".redact", "only with action: redact");
            if (!n.IsSequence() || n.size() == 0) fail(n, p + ".redact", "needs a list of paths");
            for (std::size_t k = 0; k < n.size(); ++k)
                entry.redact.push_back(
                    argument_path(n[k], p + ".redact[" + std::to_string(k) + "]"));
        } else if (entry.action == ToolCallAction::redact) {
            fail(entry_node, p + ".redact", "action redact needs the paths to redact");
        }
        control->entries.push_back(std::move(entry));
    }
    return control;
}

PolicyRule Loader::rule(const YAML::Node& node, size_t index) const {
    const std::string path = "rules[" + std::to_string(index) + "]";
    check_keys(node, path,
               {"name", "description", "match", "action", "require_approval", "models", "endpoints",
                "max_tokens", "rate_limit", "budget", "block_prompts", "masking", "oidc_binding",
                "tool_calls", "record"});
    PolicyRule rule;
    rule.index = index;
    rule.line = node.Mark().line + 1;
    if (!node["name"]) fail(node, path, "missing key 'name'");
    rule.name = scalar(node["name"], path + ".name");
    if (rule.name.empty() || rule.name == "default")
        fail(node["name"], path + ".name", "must be non-empty and not 'default'");
    if (auto n = node["description"]) scalar(n, path + ".description");
    if (!node["match"]) fail(node, path, "missing key 'match' (use 'match: {}' to match everyone)");
    rule.match = match(node["match"], path + ".match");
    if (auto n = node["action"]) {
        auto action = scalar(n, path + ".action");
        if (action != "allow" && action != "deny")
            fail(n, path + ".action", "must be allow or deny, not '" + action + "'");
        rule.deny = action == "deny";
    }
    if (auto n = node["require_approval"]) {
        if (n.IsMap())
            rule.require_approval = require_approval(n, path + ".require_approval");
        else if (boolean(n, path + ".require_approval"))
            rule.require_approval = ApprovalControl{};
    }
    if (auto n = node["models"]) {
        auto p = path + ".models";
        check_keys(n, p, {"allow", "deny", "fail_mode"});
        ModelControl control;
        if (n["allow"]) control.allow = glob_list(n["allow"], p + ".allow");
        if (n["deny"]) control.deny = glob_list(n["deny"], p + ".deny");
        control.fail_mode = fail_mode(n, p);
        rule.models = std::move(control);
    }
    if (auto n = node["endpoints"]) {
        auto p = path + ".endpoints";
        check_keys(n, p, {"allow", "deny"});
        EndpointControl control;
        if (n["allow"]) control.allow = endpoints(n["allow"], p + ".allow");
        if (n["deny"]) control.deny = endpoints(n["deny"], p + ".deny");
        rule.endpoints = std::move(control);
    }
    if (auto n = node["max_tokens"]) {
        auto p = path + ".max_tokens";
        check_keys(n, p, {"limit", "mode", "fail_mode"});
        MaxTokensControl control;
        if (!n["limit"]) fail(n, p, "missing key 'limit'");
        control.limit = positive_int(n["limit"], p + ".limit");
        if (auto mode = n["mode"]) {
            auto text = scalar(mode, p + ".mode");
            if (text == "clamp")
                control.mode = MaxTokensControl::Mode::clamp;
            else if (text != "reject")
                fail(mode, p + ".mode", "must be reject or clamp, not '" + text + "'");
        }
        control.fail_mode = fail_mode(n, p);
        rule.max_tokens = control;
    }
    if (auto n = node["rate_limit"]) {
        auto p = path + ".rate_limit";
        check_keys(n, p,
                   {"requests_per_minute", "tokens_per_minute", "per", "fail_mode",
                    "assumed_output_tokens"});
        RateLimitControl control;
        if (n["requests_per_minute"])
            control.requests_per_minute =
                positive_int(n["requests_per_minute"], p + ".requests_per_minute");
        if (n["tokens_per_minute"])
            control.tokens_per_minute =
                positive_int(n["tokens_per_minute"], p + ".tokens_per_minute");
        if (!control.requests_per_minute && !control.tokens_per_minute)
            fail(n, p, "needs requests_per_minute or tokens_per_minute");
        if (n["assumed_output_tokens"])
            control.assumed_output_tokens =
                positive_int(n["assumed_output_tokens"], p + ".assumed_output_tokens");
        control.per = principal_key(n, p);
        control.fail_mode = fail_mode(n, p);
        rule.rate_limit = control;
    }
    if (auto n = node["budget"]) {
        auto p = path + ".budget";
        check_keys(n, p,
                   {"tokens_per_day", "cost_per_day", "timezone", "per", "fail_mode",
                    "assumed_output_tokens"});
        BudgetControl control;
        if (n["tokens_per_day"])
            control.tokens_per_day = positive_int(n["tokens_per_day"], p + ".tokens_per_day");
        if (auto cost = n["cost_per_day"]) {
            auto usd = non_negative_number(cost, p + ".cost_per_day");
            if (usd <= 0) fail(cost, p + ".cost_per_day", "must be positive");
            control.cost_per_day_pico = std::llround(usd * 1e12);
        }
        if (!control.tokens_per_day && !control.cost_per_day_pico)
            fail(n, p, "needs tokens_per_day or cost_per_day");
        control.timezone = n["timezone"] ? zone(n["timezone"], p + ".timezone") : default_timezone_;
        if (n["assumed_output_tokens"])
            control.assumed_output_tokens =
                positive_int(n["assumed_output_tokens"], p + ".assumed_output_tokens");
        control.per = principal_key(n, p);
        control.fail_mode = fail_mode(n, p);
        rule.budget = control;
    }
    if (auto n = node["block_prompts"])
        rule.block_prompts = block_prompts(n, path + ".block_prompts");
    if (auto n = node["oidc_binding"]) rule.oidc_binding = oidc_binding(n, path + ".oidc_binding");
    if (auto n = node["tool_calls"]) rule.tool_calls = tool_calls(n, path + ".tool_calls");
    if (auto n = node["record"]) {
        const auto mode = scalar(n, path + ".record");
        if (mode == "none")
            rule.record = RecordMode::none;
        else if (mode == "metadata")
            rule.record = RecordMode::metadata;
        else if (mode == "full")
            rule.record = RecordMode::full;
        else
            fail(n, path + ".record", "must be none, metadata or full, not '" + mode + "'");
    }
    if (auto n = node["masking"]) {
        try {
            rule.masking = masking::parse_masking(n, path + ".masking", masking_patterns_);
        } catch (const masking::MaskingConfigError& e) {
            fail(e.node, e.key_path, e.what());
        }
    }
    return rule;
}

std::shared_ptr<Policy> Loader::load(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull())
        fail(root, "", "empty policy (needs at least 'default')");
    check_keys(root, "",
               {"version", "default", "timezone", "prices", "pattern_sets", "block_prompts",
                "masking_patterns", "rules"});
    auto policy = std::make_shared<Policy>();
    policy->source_name = source_;
    policy->offsets = offsets_;
    if (auto n = root["version"]) {
        if (scalar(n, "version") != "1")
            fail(n, "version", "unsupported version '" + n.Scalar() + "' (expected 1)");
    }
    if (!root["default"]) fail(root, "", "missing key 'default' (allow or deny)");
    auto default_action = scalar(root["default"], "default");
    if (default_action != "allow" && default_action != "deny")
        fail(root["default"], "default", "must be allow or deny, not '" + default_action + "'");
    policy->default_allow = default_action == "allow";
    if (auto n = root["timezone"]) default_timezone_ = zone(n, "timezone");

    if (auto prices = root["prices"]) {
        require_map(prices, "prices");
        std::vector<ModelPrice> exact;
        std::vector<ModelPrice> globs;
        for (const auto& entry : prices) {
            auto model = scalar(entry.first, "prices");
            auto p = "prices." + model;
            if (auto error = glob_error(model)) fail(entry.first, p, *error);
            check_keys(entry.second, p, {"input_per_1m", "output_per_1m"});
            if (!entry.second["input_per_1m"] || !entry.second["output_per_1m"])
                fail(entry.second, p,
                     "needs input_per_1m and output_per_1m (USD per million tokens)");
            ModelPrice price;
            price.model = model;
            // USD per 1e6 tokens → pico-USD per token: × 1e12 / 1e6.
            price.input_pico_per_token = std::llround(
                non_negative_number(entry.second["input_per_1m"], p + ".input_per_1m") * 1e6);
            price.output_pico_per_token = std::llround(
                non_negative_number(entry.second["output_per_1m"], p + ".output_per_1m") * 1e6);
            (glob_is_literal(model) ? exact : globs).push_back(std::move(price));
        }
        policy->prices = std::move(exact);
        policy->prices.insert(policy->prices.end(), globs.begin(), globs.end());
    }

    if (auto sets = root["pattern_sets"]) {
        require_map(sets, "pattern_sets");
        for (const auto& entry : sets) {
            auto name = scalar(entry.first, "pattern_sets");
            auto p = "pattern_sets." + name;
            if (!entry.second.IsSequence()) fail(entry.second, p, "not a list");
            std::vector<PromptPatternSet::Pattern> patterns;
            for (size_t i = 0; i < entry.second.size(); ++i) {
                auto item = entry.second[i];
                auto item_path = p + "[" + std::to_string(i) + "]";
                PromptPatternSet::Pattern pattern;
                if (item.IsScalar()) {
                    pattern = {name + "[" + std::to_string(i) + "]", item.Scalar()};
                } else {
                    check_keys(item, item_path, {"name", "regex"});
                    if (!item["name"] || !item["regex"])
                        fail(item, item_path, "needs name and regex");
                    pattern = {name + "/" + scalar(item["name"], item_path + ".name"),
                               scalar(item["regex"], item_path + ".regex")};
                }
                if (auto error = regex_error(pattern.regex))
                    fail(item, item_path,
                         "bad regex " + pattern.name + " '" + pattern.regex + "': " + *error);
                patterns.push_back(std::move(pattern));
            }
            pattern_sets_[name] = std::move(patterns);
        }
    }
    if (auto n = root["block_prompts"]) policy->block_prompts = block_prompts(n, "block_prompts");
    if (auto n = root["masking_patterns"]) {
        try {
            masking_patterns_ = masking::parse_masking_patterns(n, "masking_patterns");
        } catch (const masking::MaskingConfigError& e) {
            fail(e.node, e.key_path, e.what());
        }
    }

    if (auto rules = root["rules"]) {
        if (!rules.IsSequence()) fail(rules, "rules", "not a list");
        std::set<std::string> names;
        for (size_t i = 0; i < rules.size(); ++i) {
            auto parsed = rule(rules[i], i);
            if (!names.insert(parsed.name).second)
                fail(rules[i]["name"], "rules[" + std::to_string(i) + "].name",
                     "duplicate rule name '" + parsed.name + "'");
            policy->rules.push_back(std::move(parsed));
        }
    }
    policy->rule_index = std::make_shared<const RuleIndex>(policy->rules);
    return policy;
}

}  // namespace

PolicyLoadResult load_policy(std::string_view yaml, std::string_view source_name) {
    return load_policy(yaml, source_name, {});
}

PolicyLoadResult load_policy(std::string_view yaml, std::string_view source_name,
                             const PolicyLoadOptions& options) {
    PolicyLoadResult result;
    Loader loader(source_name, options.offsets ? options.offsets : fixed_offset_resolver());
    try {
        YAML::Node root = YAML::Load(std::string(yaml));
        result.policy = loader.load(root);
    } catch (const LoadError& e) {
        result.error = e.what();
    } catch (const YAML::Exception& e) {
        // Syntax errors: yaml-cpp's mark is 0-based.
        result.error = std::string(source_name) + ":" + std::to_string(e.mark.line + 1) +
                       ": invalid YAML: " + e.msg;
    }
    return result;
}

}  // namespace sluice
