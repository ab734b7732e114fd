#include "agent/gate/policy_state_file.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

Admission daily_tokens(int64_t tokens) {
    Admission admission;
    Admission::AccountCharge charge;
    charge.key = "budget|ci";
    charge.today = 20000;
    charge.seconds_to_midnight = 3600;
    charge.limit = {1'000'000, 0};
    charge.amount = {tokens, 0};
    admission.accounts.push_back(charge);
    return admission;
}

TEST(PolicyStateFile, BudgetsSurviveARestart) {
    testing::ScratchDir dir;
    const auto now = std::chrono::system_clock::now();
    {
        PolicyState state;
        auto admitted = state.admit(daily_tokens(500), now);
        state.settle(admitted.reservation_id, TokenUsage{300, 20}, now);
        PolicyStateFile file(dir.path());
        EXPECT_EQ(file.save(state), "");
        struct stat st {};
        ASSERT_EQ(::stat(file.path().c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
    }
    PolicyState restored;
    PolicyStateFile file(dir.path());
    EXPECT_NE(file.restore(restored).find("restored"), std::string::npos);
    ASSERT_EQ(restored.budget_accounts().size(), 1u);
    EXPECT_EQ(restored.budget_accounts()[0].account.used.tokens, 320);
}

TEST(PolicyStateFile, MissingFileIsAFreshStart) {
    testing::ScratchDir dir;
    PolicyState state;
    EXPECT_NE(PolicyStateFile(dir.path()).restore(state).find("fresh"), std::string::npos);
    EXPECT_TRUE(state.budget_accounts().empty());
}

TEST(PolicyStateFile, CorruptFileIsMovedAsideAndReported) {
    testing::ScratchDir dir;
    dir.write("policy-state.json", "{\"version\": 1, \"budgets\": ");
    PolicyState state;
    const std::string outcome = PolicyStateFile(dir.path()).restore(state);
    EXPECT_NE(outcome.find("unusable"), std::string::npos) << outcome;
    EXPECT_TRUE(std::filesystem::exists(dir.file("policy-state.json.corrupt")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("policy-state.json")));
}

TEST(PolicyStateFile, UnwritableDirectoryIsAnErrorLine) {
    PolicyState state;
    PolicyStateFile file("/nonexistent-dir");
    const std::string error = file.save(state);
    EXPECT_NE(error.find("/nonexistent-dir/policy-state.json"), std::string::npos) << error;
}

}  // namespace
}  // namespace sluice
