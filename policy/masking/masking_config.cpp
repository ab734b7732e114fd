#include "policy/masking/masking_config.h"

#include <re2/re2.h>

#include <algorithm>
#include <set>

namespace sluice::masking {

namespace {

[[noreturn]] void fail(const YAML::Node& at, const std::string& path, const std::string& message) {
    throw MaskingConfigError(at, path, message);
}

std::string scalar(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) fail(node, path, "not a string");
    return node.Scalar();
}

void check_keys(const YAML::Node& node, const std::string& path,
                const std::set<std::string>& allowed) {
    if (!node.IsMap()) fail(node, path, "not a map");
    for (const auto& entry : node) {
        const auto key = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
        if (!allowed.count(key)) {
            std::string expected;
            for (const auto& name : allowed) expected += (expected.empty() ? "" : ", ") + name;
            fail(entry.first, path + "." + key, "unknown key (expected one of: " + expected + ")");
        }
    }
}

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 64 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

bool reserved_name(const std::string& name) {
    return parse_entity(name).has_value() || name == "pii" || name == "secrets" || name == "all";
}

}  // namespace

std::vector<CustomPattern> parse_masking_patterns(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) fail(node, path, "not a map");
    std::vector<CustomPattern> out;
    for (const auto& entry : node) {
        const std::string name = scalar(entry.first, path);
        const std::string p = path + "." + name;
        if (!valid_name(name))
            fail(entry.first, p,
                 "pattern names are lower case letters, digits and '_' (at most 64)");
        if (reserved_name(name)) fail(entry.first, p, "'" + name + "' is a built-in entity name");
        CustomPattern pattern;
        pattern.name = name;
        if (entry.second.IsScalar()) {
            pattern.regex = entry.second.Scalar();
        } else {
            check_keys(entry.second, p, {"regex", "max_length"});
            if (!entry.second["regex"]) fail(entry.second, p, "missing key 'regex'");
            pattern.regex = scalar(entry.second["regex"], p + ".regex");
            if (auto n = entry.second["max_length"]) {
                long long value = 0;
                try {
                    value = n.as<long long>();
                } catch (const YAML::Exception&) {
                    fail(n, p + ".max_length", "not an integer");
                }
                if (value < 1 || value > 4096)
                    fail(n, p + ".max_length", "must be between 1 and 4096");
                pattern.max_length = static_cast<std::size_t>(value);
            }
        }
        re2::RE2::Options options;
        options.set_log_errors(false);
        re2::RE2 re(pattern.regex, options);
        if (!re.ok()) fail(entry.second, p, "bad regex '" + pattern.regex + "': " + re.error());
        if (re2::RE2::FullMatch("", re)) fail(entry.second, p, "regex matches the empty string");
        out.push_back(std::move(pattern));
    }
    if (out.size() > kMaxCustomPatterns)
        fail(node, path, "at most " + std::to_string(kMaxCustomPatterns) + " patterns");
    return out;
}

std::shared_ptr<const MaskingControl> parse_masking(const YAML::Node& node, const std::string& path,
                                                    const std::vector<CustomPattern>& patterns) {
    if (!node.IsSequence()) fail(node, path, "not a list");
    if (node.size() == 0) fail(node, path, "empty list");
    struct Entry {
        std::vector<std::string> names;  // built-in or custom
        MaskingRule rule;
    };
    std::vector<Entry> entries;
    std::vector<CustomPattern> used;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const auto item = node[i];
        const std::string p = path + "[" + std::to_string(i) + "]";
        check_keys(item, p, {"entities", "direction", "action"});
        Entry entry;
        auto entities = item["entities"];
        if (!entities) fail(item, p, "missing key 'entities'");
        if (!entities.IsSequence() || entities.size() == 0)
            fail(entities, p + ".entities", "not a non-empty list");
        for (std::size_t k = 0; k < entities.size(); ++k) {
            const std::string ep = p + ".entities[" + std::to_string(k) + "]";
            const std::string name = scalar(entities[k], ep);
            auto add_builtins = [&](bool secrets, bool pii) {
                for (std::size_t e = 0; e < kBuiltinEntityCount; ++e) {
                    const bool secret = tier(static_cast<Entity>(e)) == Tier::secret;
                    if ((secret && secrets) || (!secret && pii))
                        entry.names.emplace_back(config_name(static_cast<Entity>(e)));
                }
            };
            if (name == "all") {
                add_builtins(true, true);
            } else if (name == "secrets") {
                add_builtins(true, false);
            } else if (name == "pii") {
                add_builtins(false, true);
            } else if (parse_entity(name)) {
                entry.names.push_back(name);
            } else {
                auto it = std::find_if(patterns.begin(), patterns.end(),
                                       [&](const CustomPattern& c) { return c.name == name; });
                if (it == patterns.end())
                    fail(entities[k], ep,
                         "unknown entity '" + name +
                             "' (built-ins: email, phone, credit_card, iban, us_ssn, ipv4, ipv6, "
                             "openai_key, aws_access_key, aws_secret_key, github_token, "
                             "slack_token, jwt, private_key; groups: pii, secrets, all; or a "
                             "masking_patterns name)");
                if (std::none_of(used.begin(), used.end(),
                                 [&](const CustomPattern& c) { return c.name == name; }))
                    used.push_back(*it);
                entry.names.push_back(name);
            }
        }
        if (auto d = item["direction"]) {
            const auto text = scalar(d, p + ".direction");
            if (text == "request")
                entry.rule.response = false;
            else if (text == "response")
                entry.rule.request = false;
            else if (text != "both")
                fail(d, p + ".direction", "must be request, response or both, not '" + text + "'");
        }
        if (auto a = item["action"]) {
            const auto text = scalar(a, p + ".action");
            if (text == "redact")
                entry.rule.action = MaskAction::redact;
            else if (text == "partial")
                entry.rule.action = MaskAction::partial;
            else if (text == "hash")
                entry.rule.action = MaskAction::hash;
            else if (text == "token")
                entry.rule.action = MaskAction::token;
            else
                fail(a, p + ".action",
                     "must be redact, partial, hash or token, not '" + text + "'");
        }
        if (entry.rule.action == MaskAction::token && !entry.rule.request)
            fail(item, p,
                 "action token needs direction request or both (tokens are issued on requests)");
        entries.push_back(std::move(entry));
    }
    std::shared_ptr<const RecognizerSet> set = RecognizerSet::builtin();
    if (!used.empty()) {
        std::string error;
        set = RecognizerSet::compile(used, error);
        if (!set) fail(node, path, error);
    } else if (!set) {
        std::string error;
        RecognizerSet::compile({}, error);
        fail(node, path, error);
    }
    std::vector<MaskingRule> rules;
    for (auto& entry : entries) {
        for (const auto& name : entry.names) entry.rule.entities.add(*set->find_entity(name));
        rules.push_back(entry.rule);
    }
    return std::make_shared<MaskingControl>(std::move(set), std::move(rules));
}

}  // namespace sluice::masking
