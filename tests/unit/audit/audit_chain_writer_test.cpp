// The writer's side of tamper evidence: what it leaves on disk verifies, across rotations,
// checkpoints, retention and a restart after a crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/audit/audit_chain.h"
#include "agent/audit/audit_signer.h"
#include "agent/audit/audit_verify.h"
#include "agent/audit/audit_writer.h"

namespace sluice {
namespace {

struct TempDir {
    std::string path = [] {
        char pattern[] = "/tmp/sluice-audit-chain.XXXXXX";
        return std::string(mkdtemp(pattern));
    }();
    ~TempDir() { std::filesystem::remove_all(path); }
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

struct Verified {
    AuditVerifyReport report;
    std::vector<std::string> texts;  // kept alive for the report's views
};

Verified verify_dir(const std::string& path, const AuditVerifyKey& key) {
    Verified out;
    std::vector<std::string> paths = rotated_audit_files(path);
    paths.push_back(path);
    for (const auto& p : paths) out.texts.push_back(read_file(p));
    std::vector<AuditFileText> files;
    for (std::size_t i = 0; i < paths.size(); ++i) files.push_back({paths[i], out.texts[i]});
    out.report = verify_audit(files, &key);
    return out;
}

AuditWriterOptions options_in(const TempDir& dir, std::shared_ptr<const AuditSigner> signer) {
    AuditWriterOptions options;
    options.path = dir.path + "/audit.jsonl";
    options.signer = std::move(signer);
    return options;
}

AuditRecord sample_record(int i) {
    AuditRecord record;
    record.id = new_audit_id();
    record.started = std::chrono::system_clock::now();
    record.method = "POST";
    record.path = "/v1/chat/completions";
    record.model = "gpt-4o-mini";
    record.status = 200;
    record.reason = "request " + std::to_string(i);
    return record;
}

TEST(AuditChainWriter, HundredThousandRecordsAcrossFiveRotationsVerify) {
    TempDir dir;
    auto signer =
        std::make_shared<const AuditSigner>(AuditSigner::load_or_create(dir.path + "/state"));
    const AuditVerifyKey key = AuditVerifyKey::from_pem(signer->public_key_pem());
    constexpr int kRecords = 100'000;
    const uint64_t line_bytes = sample_record(0).to_line().size() + 90;  // + the chain members
    AuditWriterOptions options = options_in(dir, signer);
    // Rotation is checked before each batch: files of 2/11 of the log make five rotations.
    options.rotate_bytes = kRecords * line_bytes * 2 / 11;
    {
        AuditWriter writer(options);
        for (int i = 0; i < kRecords; ++i) {
            writer.write_record(sample_record(i));
            // Batches stay small (a busy writer takes the whole queue), so each file overshoots
            // rotate_bytes by little and the count of rotations is exact.
            if (i % 500 == 0) writer.flush();
        }
        writer.flush();
        EXPECT_EQ(writer.stats().rotations, 5u);
    }
    const auto started = std::chrono::steady_clock::now();
    const Verified verified = verify_dir(options.path, key);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const AuditVerifyReport& report = verified.report;
    EXPECT_EQ(report.exit_code(), 0) << describe(report);
    EXPECT_EQ(report.files, 6u);
    EXPECT_EQ(report.lines - report.checkpoints, static_cast<uint64_t>(kRecords));
    EXPECT_GE(report.checkpoints, kRecords / 1000u);
    std::printf("verify: %.1f MB in %.3f s = %.0f MB/s (includes reading the files)\n",
                report.bytes / 1e6, seconds, report.bytes / 1e6 / seconds);
}

TEST(AuditChainWriter, CheckpointsEveryNRecordsEveryTSecondsAndAtShutdown) {
    TempDir dir;
    auto signer =
        std::make_shared<const AuditSigner>(AuditSigner::load_or_create(dir.path + "/state"));
    AuditWriterOptions options = options_in(dir, signer);
    options.checkpoint_records = 10;
    options.checkpoint_interval = std::chrono::milliseconds(50);
    {
        AuditWriter writer(options);
        for (int i = 0; i < 25; ++i) writer.write({{"n", i}});
        writer.flush();
        EXPECT_EQ(writer.stats().checkpoints, 2u);
        // 5 records past the last one: the interval seals them without more traffic.
        for (int i = 0; i < 100 && writer.stats().checkpoints < 3; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        EXPECT_EQ(writer.stats().checkpoints, 3u);
    }
    const std::string text = read_file(options.path);
    const auto verified =
        verify_dir(options.path, AuditVerifyKey::from_pem(signer->public_key_pem()));
    EXPECT_EQ(verified.report.exit_code(), 0) << describe(verified.report);
    EXPECT_EQ(verified.report.checkpoints, 4u);
    EXPECT_EQ(verified.report.last_checkpoint_reason, "shutdown");
}

TEST(AuditChainWriter, RotatesByAgeWithAnInjectedClockAndKeepsOnlyKeepFiles) {
    TempDir dir;
    auto signer =
        std::make_shared<const AuditSigner>(AuditSigner::load_or_create(dir.path + "/state"));
    AuditWriterOptions options = options_in(dir, signer);
    auto now =
        std::make_shared<std::chrono::system_clock::time_point>(std::chrono::system_clock::now());
    options.clock = [now] { return *now; };
    options.rotate_interval = std::chrono::hours(1);
    options.keep_files = 2;
    {
        AuditWriter writer(options);
        for (int hour = 0; hour < 5; ++hour) {
            writer.write({{"hour", hour}});
            writer.flush();
            *now += std::chrono::minutes(61);
        }
        EXPECT_EQ(writer.stats().rotations, 4u);
    }
    const std::vector<std::string> rotated = rotated_audit_files(options.path);
    ASSERT_EQ(rotated.size(), 2u);  // .3 and .4; .1 and .2 removed
    EXPECT_EQ(rotated[0], options.path + ".3");
    const auto verified =
        verify_dir(options.path, AuditVerifyKey::from_pem(signer->public_key_pem()));
    EXPECT_EQ(verified.report.exit_code(), 0) << describe(verified.report);
    EXPECT_GT(verified.report.first_seq.value_or(0), 0u);
}

// kill -9 leaves an unsealed chain, maybe with a cut last line: the next writer seals both.
TEST(AuditChainWriter, ARestartAfterACrashSealsTheCutLineAndVerifies) {
    for (const std::size_t cut_bytes : {std::size_t{0}, std::size_t{1}, std::size_t{37}}) {
        TempDir dir;
        auto signer =
            std::make_shared<const AuditSigner>(AuditSigner::load_or_create(dir.path + "/state"));
        AuditWriterOptions options = options_in(dir, signer);
        {
            AuditWriter writer(options);
            for (int i = 0; i < 30; ++i) writer.write_record(sample_record(i));
            writer.flush();
        }
        // What a crash leaves: the shutdown checkpoint never written, and part of a line.
        std::string text = read_file(options.path);
        text.erase(text.rfind(kCheckpointPrefix));
        text += sample_record(99).to_line().substr(0, cut_bytes);
        std::ofstream(options.path, std::ios::binary | std::ios::trunc) << text;
        {
            AuditWriter writer(options);
            EXPECT_TRUE(writer.stats().recovered_unclean_stop);
            writer.write_record(sample_record(100));
            writer.flush();
        }
        const auto verified =
            verify_dir(options.path, AuditVerifyKey::from_pem(signer->public_key_pem()));
        EXPECT_EQ(verified.report.exit_code(), 0) << describe(verified.report);
        ASSERT_EQ(verified.report.crashes.size(), 1u) << describe(verified.report);
        EXPECT_EQ(verified.report.crashes[0].partial_bytes, cut_bytes);
    }
}

TEST(AuditChainWriter, ACleanRestartContinuesTheChainWithoutACrashRecord) {
    TempDir dir;
    auto signer =
        std::make_shared<const AuditSigner>(AuditSigner::load_or_create(dir.path + "/state"));
    AuditWriterOptions options = options_in(dir, signer);
    for (int run = 0; run < 3; ++run) {
        AuditWriter writer(options);
        EXPECT_FALSE(writer.stats().recovered_unclean_stop);
        writer.write({{"run", run}});
    }
    const auto verified =
        verify_dir(options.path, AuditVerifyKey::from_pem(signer->public_key_pem()));
    EXPECT_EQ(verified.report.exit_code(), 0) << describe(verified.report);
    EXPECT_TRUE(verified.report.crashes.empty());
    EXPECT_EQ(*verified.report.last_seq, 5u);  // 3 records + 3 shutdown checkpoints
}

TEST(AuditChainWriter, WhenWrittenRunsOnceTheRecordIsInTheFile) {
    TempDir dir;
    AuditWriter writer(options_in(dir, nullptr));
    std::atomic<bool> called{false};
    const uint64_t ticket = writer.write_record(sample_record(1));
    writer.when_written(ticket, [&] { called = true; });
    for (int i = 0; i < 200 && !called; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(called);
    EXPECT_TRUE(writer.written(ticket));
    EXPECT_NE(read_file(dir.path + "/audit.jsonl").find("request 1"), std::string::npos);
    bool at_once = false;
    writer.when_written(ticket, [&] { at_once = true; });  // already written: runs here
    EXPECT_TRUE(at_once);
}

// The proxy holds each answer until its request's "forwarded" record is written; that record
// must not wait out the linger meant to gather a batch, or every answer would.
TEST(AuditChainWriter, AnAwaitedRecordEndsTheLingerForABatch) {
    TempDir dir;
    AuditWriterOptions options = options_in(dir, nullptr);
    options.batch_linger = std::chrono::minutes(10);
    AuditWriter writer(options);
    const uint64_t batched = writer.write_record(sample_record(1));  // the writer lingers on it
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(writer.written(batched));
    const uint64_t awaited = writer.write_awaited_record(sample_record(2));
    for (int i = 0; i < 400 && !writer.written(awaited); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(writer.written(batched));
    EXPECT_TRUE(writer.written(awaited));
    const std::string file = read_file(dir.path + "/audit.jsonl");
    EXPECT_NE(file.find("request 1"), std::string::npos);
    EXPECT_NE(file.find("request 2"), std::string::npos);
    // An idle writer takes an awaited record at once too, without a linger after it.
    const uint64_t alone = writer.write_awaited_record(sample_record(3));
    for (int i = 0; i < 400 && !writer.written(alone); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(writer.written(alone));
}

}  // namespace
}  // namespace sluice
