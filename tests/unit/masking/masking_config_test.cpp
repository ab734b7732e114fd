// The masking keys of the policy file: accepted shapes, and one clear line for each mistake.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "policy/masking/masking_control.h"
#include "policy/policy_loader.h"

namespace sluice {
namespace {

std::string policy_with(const std::string& masking, const std::string& patterns = "") {
    return "version: 1\ndefault: allow\n" + patterns +
           "rules:\n  - name: r\n    match: {}\n    masking:\n" + masking;
}

TEST(MaskingConfig, RuleWithMaskingLoads) {
    auto result = load_policy(policy_with("      - {entities: [pii, employee_id], action: token}\n"
                                          "      - {entities: [secrets], direction: both}\n",
                                          "masking_patterns:\n  employee_id: 'EMP-\\d{6}'\n"
                                          "  ticket: {regex: 'T-[0-9]+', max_length: 20}\n"),
                              "policy.yaml");
    ASSERT_TRUE(result.ok()) << result.error;
    const auto& control = result.policy->rules[0].masking;
    ASSERT_TRUE(control);
    const auto& set = control->recognizers();
    EXPECT_EQ(set.custom().size(), 1u) << "only the patterns the rule names are compiled";
    EXPECT_EQ(control->action(*set.find_entity("employee_id"), masking::Direction::request),
              masking::MaskAction::token);
    EXPECT_FALSE(control->action(*set.find_entity("email"), masking::Direction::response))
        << "token rules restore on responses instead of masking";
    EXPECT_EQ(control->action(*set.find_entity("jwt"), masking::Direction::response),
              masking::MaskAction::redact);
    EXPECT_TRUE(control->restores_tokens());
}

TEST(MaskingConfig, RuleWithoutMaskingHasNone) {
    auto result = load_policy("default: allow\nrules:\n  - name: r\n    match: {}\n", "p.yaml");
    ASSERT_TRUE(result.ok());
    EXPECT_FALSE(result.policy->rules[0].masking);
}

TEST(MaskingConfig, MistakesNameFileLineAndKey) {
    struct Bad {
        std::string yaml;
        std::string error;
    };
    const Bad cases[] = {
        {policy_with("      - {entities: [email, passport]}\n"),
         "policy.yaml:7: rules[0].masking[0].entities[1]: unknown entity 'passport'"},
        {policy_with("      - {entities: [email], action: scramble}\n"),
         "policy.yaml:7: rules[0].masking[0].action: must be redact, partial, hash or token, not "
         "'scramble'"},
        {policy_with("      - {entities: [email], direction: sideways}\n"),
         "policy.yaml:7: rules[0].masking[0].direction: must be request, response or both"},
        {policy_with("      - {entities: [email], direction: response, action: token}\n"),
         "policy.yaml:7: rules[0].masking[0]: action token needs direction request or both"},
        {policy_with("      - {entities: [email], colour: red}\n"),
         "policy.yaml:7: rules[0].masking[0].colour: unknown key"},
        {policy_with("      - {action: redact}\n"),
         "policy.yaml:7: rules[0].masking[0]: missing key 'entities'"},
        {policy_with("      {entities: [email]}\n"), "policy.yaml:7: rules[0].masking: not a list"},
        {policy_with("      - {entities: [x]}\n", "masking_patterns:\n  x: '(unclosed'\n"),
         "policy.yaml:4: masking_patterns.x: bad regex '(unclosed'"},
        {policy_with("      - {entities: [x]}\n", "masking_patterns:\n  x: 'a*'\n"),
         "policy.yaml:4: masking_patterns.x: regex matches the empty string"},
        {policy_with("      - {entities: [email]}\n", "masking_patterns:\n  email: 'x+'\n"),
         "policy.yaml:4: masking_patterns.email: 'email' is a built-in entity name"},
        {policy_with("      - {entities: [x]}\n",
                     "masking_patterns:\n  x: {regex: 'x+', max_length: 0}\n"),
         "policy.yaml:4: masking_patterns.x.max_length: must be between 1 and 4096"},
    };
    for (const auto& c : cases) {
        auto result = load_policy(c.yaml, "policy.yaml");
        ASSERT_FALSE(result.ok()) << c.yaml;
        EXPECT_EQ(result.error.rfind(c.error, 0), 0u) << "got: " << result.error;
    }
}

TEST(MaskingConfig, ExamplePolicyLoads) {
    std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/packaging/policy.example.yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto result = load_policy(text, "policy.example.yaml");
    ASSERT_TRUE(result.ok()) << result.error;
    bool any = false;
    for (const auto& rule : result.policy->rules) any |= rule.masking != nullptr;
    EXPECT_TRUE(any);
}

}  // namespace
}  // namespace sluice
