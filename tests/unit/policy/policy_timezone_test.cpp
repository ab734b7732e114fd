#include "policy/policy_timezone.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sluice {
namespace {

using namespace std::chrono;

sys_seconds at(int y, unsigned m, unsigned d, int hh, int mm = 0) {
    return sys_seconds{sys_days{year{y} / month{m} / day{d}}} + hours{hh} + minutes{mm};
}

TEST(Timezone, FixedOffsets) {
    EXPECT_EQ(parse_fixed_offset("UTC"), seconds{0});
    EXPECT_EQ(parse_fixed_offset("+05:30"), seconds{5 * 3600 + 1800});
    EXPECT_EQ(parse_fixed_offset("UTC-08"), seconds{-8 * 3600});
    EXPECT_FALSE(parse_fixed_offset("Europe/Berlin"));
    EXPECT_FALSE(parse_fixed_offset("+25:00"));
    EXPECT_FALSE(parse_fixed_offset("+05:30x"));
}

TEST(Timezone, LocalDayRollsAtLocalMidnight) {
    // 22:59 UTC is 23:59 at +01:00; 23:00 UTC is the next local day.
    EXPECT_EQ(local_day(at(2024, 3, 1, 22, 59), hours{1}) + 1,
              local_day(at(2024, 3, 1, 23, 0), hours{1}));
    EXPECT_EQ(local_day(at(1969, 12, 31, 23), seconds{0}), -1);
    auto resolver = fixed_offset_resolver({{"Asia/Kolkata", hours{5} + minutes{30}}});
    EXPECT_EQ(next_local_midnight(resolver, "Asia/Kolkata", at(2024, 3, 1, 12)),
              at(2024, 3, 1, 18, 30));
    EXPECT_FALSE(next_local_midnight(resolver, "Nowhere", at(2024, 3, 1, 12)));
}

TEST(Timezone, PosixRuleEuropeanSummerTime) {
    auto rule = parse_posix_tz("CET-1CEST,M3.5.0,M10.5.0/3");
    ASSERT_TRUE(rule);
    EXPECT_EQ(rule->std_offset_s, 3600);
    EXPECT_EQ(rule->dst_offset_s, 7200);
    TzifZone zone;
    zone.footer = rule;
    // 2030: DST from Sun 31 Mar 01:00 UTC to Sun 27 Oct 01:00 UTC.
    EXPECT_EQ(zone.offset_at(at(2030, 3, 31, 0, 59)), seconds{3600});
    EXPECT_EQ(zone.offset_at(at(2030, 3, 31, 1, 0)), seconds{7200});
    EXPECT_EQ(zone.offset_at(at(2030, 10, 27, 0, 59)), seconds{7200});
    EXPECT_EQ(zone.offset_at(at(2030, 10, 27, 1, 0)), seconds{3600});
    EXPECT_FALSE(parse_posix_tz("garbage"));
    EXPECT_TRUE(parse_posix_tz("<+0530>-5:30"));
    EXPECT_TRUE(parse_posix_tz("EST5EDT,M3.2.0,M11.1.0"));
}

TEST(Timezone, SystemTzifFilesParse) {
    auto read = [](std::string_view zone) -> std::optional<std::string> {
        std::ifstream file("/usr/share/zoneinfo/" + std::string(zone), std::ios::binary);
        if (!file) return std::nullopt;
        std::stringstream bytes;
        bytes << file.rdbuf();
        return bytes.str();
    };
    if (!read("Europe/Berlin")) GTEST_SKIP() << "no tz database on this machine";
    auto resolver = tzif_resolver(read);
    EXPECT_EQ(resolver("Europe/Berlin", at(2024, 1, 15, 12)), seconds{3600});
    EXPECT_EQ(resolver("Europe/Berlin", at(2024, 7, 15, 12)), seconds{7200});
    EXPECT_EQ(resolver("Europe/Berlin", at(2050, 7, 15, 12)), seconds{7200});  // footer rule
    EXPECT_EQ(resolver("America/New_York", at(2024, 1, 15, 12)), seconds{-5 * 3600});
    EXPECT_EQ(resolver("America/New_York", at(2024, 7, 15, 12)), seconds{-4 * 3600});
    EXPECT_FALSE(resolver("No/Such_Zone", at(2024, 1, 1, 0)));
    EXPECT_EQ(resolver("+02:00", at(2024, 1, 1, 0)), seconds{7200});
    // Midnight after a spring-forward day: 2024-03-31 Berlin midnight is 22:00 UTC (CEST).
    EXPECT_EQ(next_local_midnight(resolver, "Europe/Berlin", at(2024, 3, 31, 12)),
              at(2024, 3, 31, 22));
    EXPECT_FALSE(parse_tzif("not a tzif file"));
}

}  // namespace
}  // namespace sluice
