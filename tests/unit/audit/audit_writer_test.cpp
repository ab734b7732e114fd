#include "agent/audit/audit_writer.h"

#include <sched.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/audit/audit_record.h"

namespace sluice {
namespace {

std::string temp_dir() {
    char pattern[] = "/tmp/sluice-audit-test.XXXXXX";
    return mkdtemp(pattern);
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
    return lines;
}

TEST(AuditWriter, WritesOneJsonLinePerRecordWithA0600File) {
    const std::string dir = temp_dir();
    const std::string path = dir + "/sub/audit.jsonl";
    {
        AuditWriter writer(path);
        for (int i = 0; i < 100; ++i) writer.write({{"n", i}});
        writer.flush();
        EXPECT_EQ(writer.stats().written, 100u);
    }
    auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 100u);
    EXPECT_EQ(lines[99]["n"], 99);
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::filesystem::remove_all(dir);
}

TEST(AuditWriter, UnopenablePathIsOneClearLine) {
    try {
        AuditWriter writer("/proc/nonexistent-dir/audit.jsonl");
        FAIL() << "expected an error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("/proc/nonexistent-dir"), std::string::npos);
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
}

TEST(AuditWriter, AFullDiskMakesItUnhealthyAndCountsWhatIsLost) {
    AuditWriter writer("/dev/full");  // every write fails with ENOSPC
    writer.write({{"n", 1}});
    writer.flush();
    const AuditStats stats = writer.stats();
    EXPECT_FALSE(stats.healthy);
    EXPECT_FALSE(writer.healthy());
    EXPECT_GE(stats.write_errors, 1u);
    EXPECT_NE(stats.last_error.find("space"), std::string::npos) << stats.last_error;
}

TEST(AuditWriter, ABurstIsWrittenInFewBatchesAndInOrder) {
    const std::string dir = temp_dir();
    const std::string path = dir + "/audit.jsonl";
    constexpr int kThreads = 4, kPerThread = 2000;
    {
        AuditWriter writer(path);
        std::vector<std::thread> producers;
        for (int t = 0; t < kThreads; ++t) {
            producers.emplace_back([&writer, t] {
                for (int i = 0; i < kPerThread; ++i) writer.write({{"t", t}, {"i", i}});
            });
        }
        for (auto& p : producers) p.join();
        writer.flush();
        const AuditStats stats = writer.stats();
        EXPECT_EQ(stats.written, static_cast<uint64_t>(kThreads * kPerThread));
        // One wakeup and one writev per batch, not per record (a loaded machine may split the
        // burst more, hence the loose bound).
        EXPECT_GE(stats.batches, 1u);
        EXPECT_LE(stats.batches, stats.written / 10) << stats.batches << " batches";
    }
    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
    std::vector<int> next(kThreads, 0);
    for (const auto& line : lines) {
        const int t = line["t"];
        EXPECT_EQ(line["i"], next[t]++) << "thread " << t;
    }
    std::filesystem::remove_all(dir);
}

TEST(AuditWriter, ALoneRecordReachesTheFileWithoutAFlush) {
    const std::string dir = temp_dir();
    const std::string path = dir + "/audit.jsonl";
    AuditWriter writer(path);
    writer.write({{"n", 1}});
    // The batch linger is milliseconds; give a loaded machine plenty of slack.
    for (int i = 0; i < 200 && writer.stats().written == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(writer.stats().written, 1u);
    EXPECT_EQ(read_lines(path).size(), 1u);
    std::filesystem::remove_all(dir);
}

// The writer is woken for every request; it must not preempt the proxy thread that woke it.
TEST(AuditWriter, TheWriterThreadIsABatchThread) {
    ASSERT_EQ(::sched_getscheduler(0), SCHED_OTHER) << "run the test under SCHED_OTHER";
    const std::string dir = temp_dir();
    AuditWriter writer(dir + "/audit.jsonl");
    writer.write({{"n", 1}});
    writer.flush();  // the thread is running
    int writers = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        if (name != "sluice-audit") continue;
        ++writers;
        EXPECT_EQ(::sched_getscheduler(std::stoi(task.path().filename().string())), SCHED_BATCH);
    }
    EXPECT_EQ(writers, 1);
    std::filesystem::remove_all(dir);
}

TEST(AuditRecord, HasTheContractFields) {
    AuditRecord record;
    record.id = new_audit_id();
    record.identity = R"({"uid":1000,"user":"alice"})";
    record.method = "POST";
    record.path = "/v1/chat/completions";
    record.model = "gpt-4o";
    record.status = 200;
    record.usage = UsageObject{R"({"total_tokens":9})"};
    const auto json = record.to_json();
    for (const char* key : {"ts", "id", "identity", "request", "response", "decision"})
        EXPECT_TRUE(json.contains(key)) << key;
    for (const char* key : {"method", "path", "model", "stream"})
        EXPECT_TRUE(json["request"].contains(key)) << key;
    EXPECT_EQ(json["response"]["usage"]["total_tokens"], 9);
    for (const char* key : {"action", "rule", "reason"})
        EXPECT_TRUE(json["decision"].contains(key)) << key;
    EXPECT_NE(new_audit_id(), new_audit_id());
}

}  // namespace
}  // namespace sluice
