#include "policy/policy_loader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sluice {
namespace {

std::string load_error(const std::string& yaml) {
    auto result = load_policy(yaml, "policy.yaml");
    EXPECT_FALSE(result.ok());
    return result.error;
}

TEST(PolicyLoader, LoadsMinimalPolicy) {
    auto result = load_policy("default: allow\n", "p.yaml");
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_TRUE(result.policy->default_allow);
    EXPECT_TRUE(result.policy->rules.empty());
}

TEST(PolicyLoader, NamesLineAndKeyOfWrongType) {
    const std::string yaml =
        "default: deny\n"         // 1
        "rules:\n"                // 2
        "  - name: a\n"           // 3
        "    match: {}\n"         // 4
        "  - name: b\n"           // 5
        "    match: {}\n"         // 6
        "  - name: c\n"           // 7
        "    match: {}\n"         // 8
        "    models:\n"           // 9
        "      allow: gpt-4o\n";  // 10
    EXPECT_EQ(load_error(yaml), "policy.yaml:10: rules[2].models.allow: not a list");
}

TEST(PolicyLoader, RefusesUnknownKeyNamingIt) {
    auto error = load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    modles: {}\n");
    EXPECT_EQ(error.rfind("policy.yaml:5: rules[0].modles: unknown key", 0), 0u) << error;
    auto top = load_error("default: deny\nrulez: []\n");
    EXPECT_EQ(top.rfind("policy.yaml:2: rulez: unknown key", 0), 0u) << top;
    auto in_match = load_error("default: deny\nrules:\n  - name: a\n    match: {unitz: [x]}\n");
    EXPECT_NE(in_match.find("rules[0].match.unitz: unknown key"), std::string::npos) << in_match;
}

TEST(PolicyLoader, RefusesBadRegexNamingPattern) {
    auto error = load_error(
        "default: deny\n"
        "pattern_sets:\n"
        "  secrets:\n"
        "    - name: broken\n"
        "      regex: 'a(b'\n");
    EXPECT_EQ(
        error.rfind("policy.yaml:4: pattern_sets.secrets[0]: bad regex secrets/broken 'a(b'", 0),
        0u)
        << error;
    auto inline_error = load_error("default: deny\nblock_prompts:\n  patterns: ['ok', '[z-a]']\n");
    EXPECT_NE(inline_error.find("policy.yaml:3: block_prompts.patterns[1]: bad regex '[z-a]'"),
              std::string::npos)
        << inline_error;
}

TEST(PolicyLoader, RefusesBadValues) {
    EXPECT_NE(load_error("default: maybe\n").find("policy.yaml:1: default: must be allow or deny"),
              std::string::npos);
    EXPECT_NE(load_error("rules: []\n").find("missing key 'default'"), std::string::npos);
    EXPECT_NE(
        load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    rate_limit: "
                   "{requests_per_minute: ten}\n")
            .find("policy.yaml:5: rules[0].rate_limit.requests_per_minute: not an integer: 'ten'"),
        std::string::npos);
    EXPECT_NE(load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    rate_limit: "
                         "{requests_per_minute: 0}\n")
                  .find("must be positive"),
              std::string::npos);
    EXPECT_NE(
        load_error("default: deny\nrules:\n  - name: a\n    match: {units: ['ci-[.service']}\n")
            .find("rules[0].match.units[0]: unterminated '['"),
        std::string::npos);
    EXPECT_NE(load_error(
                  "default: deny\nrules:\n  - name: a\n    match: {}\n  - name: a\n    match: {}\n")
                  .find("policy.yaml:5: rules[1].name: duplicate rule name 'a'"),
              std::string::npos);
    EXPECT_NE(load_error("default: deny\nrules:\n  - name: a\n")
                  .find("policy.yaml:3: rules[0]: missing key 'match'"),
              std::string::npos);
    EXPECT_NE(
        load_error(
            "default: deny\nrules:\n  - name: a\n    match: {}\n    require_approval: yes please\n")
            .find("rules[0].require_approval: not a boolean"),
        std::string::npos);
    EXPECT_NE(
        load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    require_approval: {}\n")
            .find("rules[0].require_approval: needs a condition"),
        std::string::npos);
    EXPECT_NE(load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    require_approval: "
                         "{min_prompt_tokens: 0}\n")
                  .find("rules[0].require_approval.min_prompt_tokens: must be positive"),
              std::string::npos);
    for (const char* count : {"0", "-1", "11", "two"})
        EXPECT_NE(load_error(std::string("default: deny\nrules:\n  - name: a\n    match: {}\n    "
                                         "require_approval: {min_approvers: ") +
                             count + "}\n")
                      .find("rules[0].require_approval.min_approvers"),
                  std::string::npos)
            << count;
    EXPECT_NE(load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    require_approval: "
                         "{patterns: ['(']}\n")
                  .find("bad regex"),
              std::string::npos);
    EXPECT_NE(load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    block_prompts: "
                         "{sets: [nope]}\n")
                  .find("no pattern set named 'nope'"),
              std::string::npos);
    EXPECT_NE(
        load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    budget: "
                   "{tokens_per_day: 5, timezone: Mars/Olympus}\n")
            .find("policy.yaml:5: rules[0].budget.timezone: unknown time zone 'Mars/Olympus'"),
        std::string::npos);
    EXPECT_NE(load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    endpoints: "
                         "{allow: ['POST chat']}\n")
                  .find("rules[0].endpoints.allow[0]: expected"),
              std::string::npos);
    EXPECT_NE(load_error("default: deny\nrules:\n  - name: a\n    match: {}\n    max_tokens: "
                         "{limit: 5, mode: shrink}\n")
                  .find("must be reject or clamp"),
              std::string::npos);
}

TEST(PolicyLoader, ValidatesOidcBinding) {
    auto ok = load_policy(
        "default: deny\nrules:\n  - name: a\n    match: {}\n    oidc_binding:\n"
        "      claim: email\n      users: {ci-runner: ['ci-bot@*'], 1234: [robot]}\n"
        "      required: false\n",
        "p.yaml");
    ASSERT_TRUE(ok.ok()) << ok.error;
    const auto& binding = *ok.policy->rules[0].oidc_binding;
    EXPECT_EQ(binding.claim, "email");
    EXPECT_FALSE(binding.required);
    EXPECT_EQ(binding.users.at("1234"), std::vector<std::string>{"robot"});
    auto defaults = load_policy(
        "default: deny\nrules:\n  - {name: a, match: {}, oidc_binding: {}}\n", "p.yaml");
    ASSERT_TRUE(defaults.ok()) << defaults.error;
    EXPECT_EQ(defaults.policy->rules[0].oidc_binding->claim, "sub");
    EXPECT_TRUE(defaults.policy->rules[0].oidc_binding->required);

    const std::string rule =
        "default: deny\nrules:\n  - name: a\n    match: {}\n    oidc_binding:\n";
    EXPECT_EQ(load_error(rule + "      subject: sub\n")
                  .rfind("policy.yaml:6: rules[0].oidc_binding.subject: unknown key", 0),
              0u);
    EXPECT_EQ(load_error(rule + "      claim: ''\n"),
              "policy.yaml:6: rules[0].oidc_binding.claim: must be non-empty (sub, email, ...)");
    EXPECT_EQ(load_error(rule + "      required: maybe\n"),
              "policy.yaml:6: rules[0].oidc_binding.required: not a boolean (true or false): "
              "'maybe'");
    EXPECT_EQ(load_error(rule + "      users: [alice]\n"),
              "policy.yaml:6: rules[0].oidc_binding.users: not a map");
    EXPECT_EQ(load_error(rule + "      users:\n        alice: alice\n"),
              "policy.yaml:7: rules[0].oidc_binding.users.alice: not a list");
    EXPECT_EQ(load_error(rule + "      users:\n        alice: []\n"),
              "policy.yaml:7: rules[0].oidc_binding.users.alice: empty list (to refuse this "
              "user, use action: deny)");
    EXPECT_EQ(load_error(rule + "      users:\n        alice: ['a[']\n"),
              "policy.yaml:7: rules[0].oidc_binding.users.alice[0]: unterminated '[' in glob "
              "'a['");
    EXPECT_EQ(load_error(rule + "      users:\n        alice: [a]\n        alice: [b]\n"),
              "policy.yaml:8: rules[0].oidc_binding.users.alice: duplicate key");
}

TEST(PolicyLoader, ReportsYamlSyntaxErrorsWithLine) {
    auto error = load_error("default: deny\nrules:\n  - name: [unclosed\n");
    EXPECT_EQ(error.rfind("policy.yaml:", 0), 0u);
    EXPECT_NE(error.find("invalid YAML"), std::string::npos) << error;
}

TEST(PolicyLoader, EmptyDocumentIsRefused) {
    EXPECT_NE(load_error("").find("empty policy"), std::string::npos);
}

TEST(PolicyLoader, TimeZoneComesFromInjectedResolver) {
    PolicyLoadOptions options;
    options.offsets = fixed_offset_resolver({{"Europe/Berlin", std::chrono::hours{1}}});
    auto result = load_policy("default: deny\ntimezone: Europe/Berlin\n", "p.yaml", options);
    EXPECT_TRUE(result.ok()) << result.error;
    EXPECT_FALSE(load_policy("default: deny\ntimezone: Europe/Berlin\n", "p.yaml").ok());
}

TEST(PolicyLoader, PricesPreferExactNamesOverGlobs) {
    auto result = load_policy(
        "default: deny\nprices:\n  'gpt-4o*': {input_per_1m: 2.5, output_per_1m: 10}\n"
        "  gpt-4o-mini: {input_per_1m: 0.15, output_per_1m: 0.6}\n",
        "p.yaml");
    ASSERT_TRUE(result.ok()) << result.error;
    const auto* mini = result.policy->price_for("gpt-4o-mini");
    ASSERT_NE(mini, nullptr);
    EXPECT_EQ(mini->input_pico_per_token,
              150'000);  // $0.15 / 1e6 tokens = 1.5e-7 $ = 150,000 pico$
    EXPECT_EQ(mini->output_pico_per_token, 600'000);
    EXPECT_EQ(result.policy->price_for("gpt-4o-2024-08-06")->output_pico_per_token, 10'000'000);
    EXPECT_EQ(result.policy->price_for("o3"), nullptr);
}

TEST(PolicyLoader, LoadsThePackagedExample) {
    std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/packaging/policy.example.yaml");
    ASSERT_TRUE(file) << "packaging/policy.example.yaml missing";
    std::stringstream text;
    text << file.rdbuf();
    auto result = load_policy(text.str(), "policy.example.yaml");
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_FALSE(result.policy->default_allow);
    ASSERT_EQ(result.policy->rules.size(), 2u);
    EXPECT_EQ(result.policy->rules[0].name, "ci");
    EXPECT_TRUE(result.policy->block_prompts.has_value());
}

// The default: a rule keeps metadata unless it says otherwise, so no one records prompts
// by accident and no one loses the record of what was asked either.
TEST(PolicyLoader, ReadsRecordModeDefaultingToMetadata) {
    auto result = load_policy(
        "default: deny\nrules:\n  - {name: a, match: {users: [a]}, record: full}\n"
        "  - {name: b, match: {users: [b]}, record: metadata}\n  - {name: c, match: {}}\n"
        "  - {name: d, match: {users: [d]}, record: none}\n",
        "p.yaml");
    ASSERT_TRUE(result.ok()) << result.error;
    EXPECT_EQ(result.policy->rules[0].record, RecordMode::full);
    EXPECT_EQ(result.policy->rules[1].record, RecordMode::metadata);
    EXPECT_EQ(result.policy->rules[2].record, RecordMode::metadata);
    EXPECT_EQ(result.policy->rules[3].record, RecordMode::none);
    EXPECT_NE(load_error("default: deny\nrules:\n  - {name: a, match: {}, record: bodies}\n")
                  .find("rules[0].record: must be none, metadata or full, not 'bodies'"),
              std::string::npos);
}

}  // namespace
}  // namespace sluice
