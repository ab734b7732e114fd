#include "agent/gate/policy_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "agent/gate/policy_file.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

const char* kAllowAll = "version: 1\ndefault: allow\n";
const char* kOneRule = "version: 1\ndefault: deny\nrules:\n  - name: everyone\n    match: {}\n";
const char* kBrokenAtLine3 = "version: 1\ndefault: deny\nrules: 7\n";

TEST(PolicyStore, NoFileMeansNoPolicyAndSaysSo) {
    testing::ScratchDir dir;
    PolicyStore store(dir.file("policy.yaml"));
    EXPECT_NE(store.load_initial().find("every request is allowed"), std::string::npos);
    EXPECT_EQ(store.current(), nullptr);
}

TEST(PolicyStore, InvalidFileAtStartIsRefusedWithFileLineAndKey) {
    testing::ScratchDir dir;
    const std::string path = dir.write("policy.yaml", kBrokenAtLine3);
    PolicyStore store(path);
    try {
        store.load_initial();
        FAIL() << "an invalid policy must stop start-up";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find(path + ":3"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("rules"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
}

TEST(PolicyStore, RefusedReloadKeepsThePolicyInForce) {
    testing::ScratchDir dir;
    const std::string path = dir.write("policy.yaml", kOneRule);
    PolicyStore store(path);
    store.load_initial();
    const auto before = store.current();
    ASSERT_NE(before, nullptr);
    dir.write("policy.yaml", kBrokenAtLine3);
    const PolicyReloadOutcome outcome = store.reload();
    EXPECT_FALSE(outcome.ok);
    EXPECT_NE(outcome.message.find(":3"), std::string::npos) << outcome.message;
    EXPECT_EQ(store.current(), before);
    EXPECT_FALSE(store.last_error().empty());

    dir.write("policy.yaml", kAllowAll);
    EXPECT_TRUE(store.reload().ok);
    EXPECT_TRUE(store.current()->default_allow);
    EXPECT_TRUE(store.last_error().empty());
}

TEST(PolicyStore, DeletedFileKeepsThePolicyInForce) {
    testing::ScratchDir dir;
    const std::string path = dir.write("policy.yaml", kOneRule);
    PolicyStore store(path);
    store.load_initial();
    std::filesystem::remove(path);
    EXPECT_FALSE(store.reload().ok);
    ASSERT_NE(store.current(), nullptr);
    EXPECT_EQ(store.current()->rules.size(), 1u);
}

TEST(PolicyStore, NoticesAChangedFile) {
    testing::ScratchDir dir;
    const std::string path = dir.write("policy.yaml", kOneRule);
    PolicyStore store(path);
    store.load_initial();
    EXPECT_FALSE(store.reload_if_changed());
    dir.write("policy.yaml", std::string(kAllowAll) + "# changed\n");
    auto outcome = store.reload_if_changed();
    ASSERT_TRUE(outcome);
    EXPECT_TRUE(outcome->ok);
    EXPECT_TRUE(store.current()->default_allow);
    EXPECT_FALSE(store.reload_if_changed());
}

TEST(PolicyStore, AppearingFileIsLoaded) {
    testing::ScratchDir dir;
    PolicyStore store(dir.file("policy.yaml"));
    store.load_initial();
    dir.write("policy.yaml", kOneRule);
    auto outcome = store.reload_if_changed();
    ASSERT_TRUE(outcome);
    EXPECT_TRUE(outcome->ok);
    EXPECT_NE(store.current(), nullptr);
}

TEST(PolicyFile, BudgetTimeZonesComeFromTheSystemDatabase) {
    testing::ScratchDir dir;
    const std::string path =
        dir.write("policy.yaml", "version: 1\ndefault: allow\ntimezone: Europe/Berlin\n");
    EXPECT_TRUE(load_policy_file(path).ok()) << load_policy_file(path).error;
    dir.write("policy.yaml", "version: 1\ndefault: allow\ntimezone: Mars/Olympus_Mons\n");
    const auto unknown = load_policy_file(path);
    EXPECT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error.find("timezone"), std::string::npos) << unknown.error;
}

TEST(PolicyFile, ZoneNamesCannotLeaveTheDatabase) {
    EXPECT_TRUE(read_zoneinfo("Europe/Berlin"));
    EXPECT_FALSE(read_zoneinfo("../../etc/passwd"));
    EXPECT_FALSE(read_zoneinfo("/etc/passwd"));
    EXPECT_FALSE(read_zoneinfo("Europe/../../../etc/passwd"));
    EXPECT_FALSE(read_zoneinfo(""));
}

TEST(PolicyFile, UnreadableFileIsNamed) {
    const auto result = load_policy_file("/nonexistent/policy.yaml");
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.error, "/nonexistent/policy.yaml: cannot read policy file");
}

}  // namespace
}  // namespace sluice
