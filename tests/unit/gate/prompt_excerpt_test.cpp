// What an approver reads of a held prompt: its start, masked as the audit masks, cut on a
// character boundary; a secret is hidden wherever the cut falls.
#include "agent/gate/prompt_excerpt.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/gate/policy_store.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

const char* kPolicy = R"(version: 1
default: allow
pattern_sets:
  markers:
    - {name: marker, regex: 'SLUICE-MARKER-[0-9]{4}'}
block_prompts:
  sets: [markers]
rules:
  - {name: everyone, match: {}}
)";

std::string chat(const std::string& prompt) {
    return nlohmann::json{
        {"model", "gpt-4o"},
        {"messages",
         {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", prompt}}}}}
        .dump();
}

class PromptExcerpt : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = std::make_unique<PolicyStore>(dir_.write("policy.yaml", kPolicy));
        store_->load_initial();
    }
    std::string excerpt(const std::string& prompt) {
        return masked_prompt_excerpt(store_->current().get(), chat(prompt), "/v1/chat/completions");
    }
    testing::ScratchDir dir_;
    std::unique_ptr<PolicyStore> store_;
};

TEST_F(PromptExcerpt, ShowsTheLastPromptWithPersonalDataMasked) {
    const std::string shown = excerpt("deploy to production and mail jane.doe@example.com");
    EXPECT_NE(shown.find("deploy to production"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("jane.doe@example.com"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("be brief"), std::string::npos) << "the last text only: " << shown;
}

TEST_F(PromptExcerpt, WithholdsABlockedPatternsText) {
    const std::string shown = excerpt("please use SLUICE-MARKER-1234 now");
    EXPECT_EQ(shown.find("SLUICE-MARKER-1234"), std::string::npos) << shown;
    EXPECT_NE(shown.find("withheld"), std::string::npos) << shown;
}

TEST_F(PromptExcerpt, IsCutOnACharacterBoundary) {
    const std::string shown = excerpt(std::string(199, 'a') + "é and more");
    EXPECT_EQ(shown, std::string(199, 'a') + "…") << "é would straddle byte 200";
}

TEST_F(PromptExcerpt, AnEmailIsHiddenWhereverTheCutFalls) {
    const std::string email = "jane.doe@example.com";
    for (std::size_t at = 170; at <= 210; ++at) {
        const std::string shown = excerpt(std::string(at, 'x') + " " + email + " tail");
        EXPECT_EQ(shown.find("jane.doe"), std::string::npos) << at << ": " << shown;
        EXPECT_EQ(shown.find("example.com"), std::string::npos) << at << ": " << shown;
    }
}

TEST_F(PromptExcerpt, NothingForABodyThatIsNotJson) {
    EXPECT_EQ(masked_prompt_excerpt(store_->current().get(), "not json", "/v1/chat/completions"),
              "");
}

}  // namespace
}  // namespace sluice
