#include "agent/daemon/doctor.h"

#include <gtest/gtest.h>

#include "agent/common/limits.h"
#include "agent/common/time_format.h"

namespace sluice {
namespace {

const std::chrono::system_clock::time_point kNow =
    std::chrono::sys_days{std::chrono::year{2026} / 1 / 1};

nlohmann::json healthy_status() {
    return {
        {"kernel",
         {{"cgroup", "/sys/fs/cgroup"},
          {"programs", {{{"name", "connect4"}}, {{"name", "connect6"}}}}}},
        {"targets", {{{"host", "api.openai.com"}, {"address", "1.2.3.4"}, {"expires", "fixed"}}}},
        {"api_key_loaded", true},
        {"policy", {{"in_force", false}}},
        {"audit", {{"healthy", true}, {"path", "/var/log/sluice/audit.jsonl"}}}};
}

bool all_ok(const std::vector<DoctorLine>& lines) {
    for (const auto& line : lines)
        if (!line.ok) return false;
    return !lines.empty();
}

const DoctorLine* find_line(const std::vector<DoctorLine>& lines, const std::string& check) {
    for (const auto& line : lines)
        if (line.check == check) return &line;
    return nullptr;
}

TEST(Doctor, HealthyDaemonPassesEveryLine) {
    EXPECT_TRUE(all_ok(check_daemon_status(healthy_status(), "", kNow)));
}

TEST(Doctor, EachBrokenFactFailsItsOwnLineWithAFix) {
    struct Case {
        const char* check;
        const char* pointer;
        nlohmann::json value;
    };
    const Case cases[] = {
        {"programs", "/kernel/programs", nlohmann::json::array()},
        {"targets", "/targets", nlohmann::json::array()},
        {"api key", "/api_key_loaded", false},
        {"audit", "/audit/healthy", false},
    };
    for (const auto& c : cases) {
        nlohmann::json status = healthy_status();
        status[nlohmann::json::json_pointer(c.pointer)] = c.value;
        const auto lines = check_daemon_status(status, "", kNow);
        const DoctorLine* line = find_line(lines, c.check);
        ASSERT_NE(line, nullptr) << c.check;
        EXPECT_FALSE(line->ok) << c.check;
        EXPECT_FALSE(line->fix.empty()) << c.check;
        EXPECT_FALSE(doctor_json(lines)["ok"].get<bool>()) << c.check;
    }
}

TEST(Doctor, TargetsPastTheirExpiryByMoreThanTheStalenessAreStale) {
    struct Case {
        std::chrono::seconds expires_from_now;
        bool ok;
    };
    const std::chrono::seconds staleness = limits::kDoctorTargetStaleness;
    const Case cases[] = {{std::chrono::seconds(300), true},
                          {-staleness + std::chrono::seconds(1), true},
                          {-staleness - std::chrono::seconds(1), false},
                          {-std::chrono::seconds(86400), false}};
    for (const auto& c : cases) {
        nlohmann::json status = healthy_status();
        status["targets"].push_back(
            {{"host", "api.openai.com"}, {"expires", format_utc(kNow + c.expires_from_now)}});
        const DoctorLine* line = find_line(check_daemon_status(status, "", kNow), "targets");
        ASSERT_NE(line, nullptr);
        EXPECT_EQ(line->ok, c.ok) << c.expires_from_now.count();
    }
}

TEST(Doctor, DaemonDownIsOneFailingLineThatSaysHowToStartIt) {
    const auto lines =
        check_daemon_status(nullptr, "cannot connect to /run/sluice/admin.sock", kNow);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_FALSE(lines[0].ok);
    EXPECT_NE(lines[0].fix.find("systemctl start sluiced"), std::string::npos);
}

TEST(Doctor, PermissionDeniedPointsAtTheOperatorGroup) {
    const auto lines = check_daemon_status({{"error", "permission denied"}}, "", kNow);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].fix.find("group sluice"), std::string::npos);
}

TEST(Doctor, TableShowsFixOnlyForFailingLines) {
    const std::string table = format_doctor_table(
        {{"daemon", true, "up", ""}, {"node", false, "CERT_UNTRUSTED", "log in again"}});
    EXPECT_NE(table.find("PASS  daemon"), std::string::npos);
    EXPECT_NE(table.find("FAIL  node"), std::string::npos);
    EXPECT_NE(table.find("fix: log in again"), std::string::npos);
    EXPECT_EQ(table.find("fix: \n"), std::string::npos);
}

}  // namespace
}  // namespace sluice
