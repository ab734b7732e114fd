#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/audit_shipping/audit_spool.h"
#include "agent/audit_shipping/collector_format.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

class TempDir {
public:
    TempDir() {
        path_ = std::filesystem::temp_directory_path() /
                ("sluice-spool-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n_));
        std::filesystem::remove_all(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string path() const { return path_.string(); }

private:
    static inline int n_ = 0;
    std::filesystem::path path_;
};

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l;
    return out;
}

TEST(CollectorFormat, SyslogFrameIsOctetCountedRfc5424WithTheLineUntouched) {
    const auto when =
        std::chrono::sys_days{std::chrono::year{2026} / 12 / 7} + 15h + 4min + 5s + 123456us;
    const std::string line = R"({"kind":"request","chain":{"seq":7}})";
    const std::string frame = syslog_frame(line + "\n", "host a", 42, when);
    const std::string message =
        "<134>1 2026-12-07T15:04:05.123456Z hosta sluiced 42 audit - " + line;
    EXPECT_EQ(frame, std::to_string(message.size()) + " " + message);
}

TEST(CollectorFormat, OtlpBodyCarriesEachLineAsALogRecordBody) {
    const auto body = nlohmann::json::parse(
        otlp_logs_body({"{\"a\":1}\n", "{\"b\":\"ü\"}\n"}, "h1", std::chrono::system_clock::now()));
    const auto& records = body["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0]["body"]["stringValue"], "{\"a\":1}");
    EXPECT_EQ(records[1]["body"]["stringValue"], "{\"b\":\"ü\"}");
    EXPECT_EQ(body["resourceLogs"][0]["resource"]["attributes"][0]["value"]["stringValue"],
              "sluiced");
}

TEST(CollectorFormat, CollectorUrls) {
    auto syslog = parse_collector_url("tls://logs.example:6514");
    ASSERT_TRUE(syslog);
    EXPECT_EQ(syslog->scheme, "tls");
    EXPECT_EQ(syslog->port, 6514);
    auto otlp = parse_collector_url("http://[::1]:4318");
    ASSERT_TRUE(otlp);
    EXPECT_EQ(otlp->host, "::1");
    EXPECT_EQ(otlp->target, "/v1/logs");
    EXPECT_EQ(parse_collector_url("https://c.example/custom/logs")->target, "/custom/logs");
    for (const char* bad :
         {"tcp://h", "udp://h:514", "tcp://u@h:1", "tcp://h:0", "tcp://h:1/x", "http://", "h:1"})
        EXPECT_FALSE(parse_collector_url(bad)) << bad;
}

TEST(AuditSpool, LinesLeaveOnlyWhenDeliveredAndSurviveARestart) {
    TempDir dir;
    std::string error;
    {
        AuditSpool spool(dir.path(), "syslog", 1 << 20);
        ASSERT_TRUE(spool.append("a\nb\nc\n", error)) << error;
        const auto batch = spool.peek(2, 1 << 20);
        EXPECT_EQ(joined(batch), "a\nb\n");
        spool.commit_to(spool.generation(), spool.offset() + 4);
        EXPECT_EQ(joined(spool.peek(10, 1 << 20)), "c\n");
    }
    AuditSpool reopened(dir.path(), "syslog", 1 << 20);
    EXPECT_EQ(joined(reopened.peek(10, 1 << 20)), "c\n");
    ASSERT_TRUE(reopened.append("d\n", error));
    EXPECT_EQ(joined(reopened.peek(10, 1 << 20)), "c\nd\n");
}

TEST(AuditSpool, ALineACrashCutIsClosedSoTheNextStartsOnItsOwn) {
    TempDir dir;
    std::string error;
    {
        AuditSpool spool(dir.path(), "otlp", 1 << 20);
        ASSERT_TRUE(spool.append("whole\ncut-in-the-mid", error));
    }
    AuditSpool reopened(dir.path(), "otlp", 1 << 20);
    ASSERT_TRUE(reopened.append("next\n", error));
    EXPECT_EQ(joined(reopened.peek(10, 1 << 20)), "whole\ncut-in-the-mid\nnext\n");
}

TEST(AuditSpool, PastItsBoundTheOldestAreDroppedAndCounted) {
    TempDir dir;
    std::string error;
    AuditSpool spool(dir.path(), "syslog", 10);
    ASSERT_TRUE(spool.append("1111\n2222\n3333\n", error));
    EXPECT_TRUE(spool.over_bound());
    EXPECT_EQ(spool.drop_oldest_beyond_bound(), 1u);
    EXPECT_FALSE(spool.over_bound());
    EXPECT_EQ(joined(spool.peek(10, 1 << 20)), "2222\n3333\n");
}

TEST(AuditSpool, ACommitAfterCompactionNeverSkipsALine) {
    TempDir dir;
    std::string error;
    AuditSpool spool(dir.path(), "syslog", 1 << 20);
    ASSERT_TRUE(spool.append("a\nb\n", error));
    const uint64_t generation = spool.generation(), start = spool.offset();
    spool.commit_to(generation, start + 4);  // all delivered: compacted to empty
    ASSERT_TRUE(spool.append("c\n", error));
    spool.commit_to(generation, start + 4);  // a stale commit is ignored
    EXPECT_EQ(joined(spool.peek(10, 1 << 20)), "c\n");
}

TEST(AuditSpool, ABatchStopsAtItsByteBoundButAlwaysTakesOneLine) {
    TempDir dir;
    std::string error;
    AuditSpool spool(dir.path(), "syslog", 1 << 20);
    ASSERT_TRUE(spool.append(std::string(100, 'x') + "\nshort\n", error));
    EXPECT_EQ(spool.peek(10, 10).size(), 1u);
    EXPECT_EQ(spool.peek(10, 1000).size(), 2u);
}

}  // namespace
}  // namespace sluice
