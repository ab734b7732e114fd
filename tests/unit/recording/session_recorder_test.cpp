// The recorder with a real audit writer: the audit line is written after the recording is on
// disk and carries its hash; a recording that cannot be stored leaves the line saying why.
#include "agent/recording/session_recorder.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "agent/common/sha256_hex.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

std::vector<nlohmann::json> audit_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);) {
        auto json = nlohmann::json::parse(line, nullptr, false);
        if (json.is_object() && json.value("kind", "") == "request") out.push_back(json);
    }
    return out;
}

AuditRecord request_record() {
    AuditRecord r;
    r.id = new_audit_id();
    r.method = "POST";
    r.path = "/v1/chat/completions";
    r.identity = R"({"uid":1000,"user":"alice"})";
    r.status = 200;
    return r;
}

TEST(SessionRecorder, TheAuditLineNamesTheStoredRecordingByItsHash) {
    testing::ScratchDir scratch;
    AuditWriter audit(scratch.file("audit.jsonl"));
    {
        SessionRecorder recorder({scratch.file("recordings"), "", {}, std::chrono::seconds(60)},
                                 audit);
        RequestCapture capture;
        capture.mode = RecordMode::full;
        capture.connection = "c1";
        capture.request_body = R"({"messages":[{"role":"user","content":"mail [EMAIL]"}]})";
        capture.response_body = R"({"choices":[]})";
        recorder.submit(request_record(), std::move(capture));
        recorder.flush();
        EXPECT_EQ(recorder.stats().stored, 1u);
    }
    audit.flush();
    const auto lines = audit_lines(scratch.file("audit.jsonl"));
    ASSERT_EQ(lines.size(), 1u);
    const auto& recording = lines[0]["recording"];
    ASSERT_TRUE(recording.contains("sha256")) << lines[0].dump();
    EXPECT_EQ(recording["mode"], "full");
    EXPECT_EQ(recording["session"], "conn-c1");
    EXPECT_EQ(lines[0]["identity"]["user"], "alice");
    RecordingStore store(scratch.file("recordings"), "", false);
    const std::string json = store.load(recording["sha256"]);
    EXPECT_EQ(sha256_hex(json), recording["sha256"]);
    EXPECT_NE(json.find("mail [EMAIL]"), std::string::npos);
}

TEST(SessionRecorder, ARecordingThatCannotBeStoredIsStillAudited) {
    testing::ScratchDir scratch;
    AuditWriter audit(scratch.file("audit.jsonl"));
    {
        SessionRecorder recorder({scratch.file("recordings"), "", {}, std::chrono::seconds(60)},
                                 audit);
        ::chmod(scratch.file("recordings").c_str(), 0500);  // root ignores modes: remove instead
        std::filesystem::remove_all(scratch.file("recordings"));
        RequestCapture capture;
        capture.mode = RecordMode::full;
        capture.connection = "c2";
        recorder.submit(request_record(), std::move(capture));
        recorder.flush();
        EXPECT_EQ(recorder.stats().failed, 1u);
    }
    audit.flush();
    const auto lines = audit_lines(scratch.file("audit.jsonl"));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0]["recording"].contains("error")) << lines[0].dump();
    EXPECT_FALSE(lines[0]["recording"].contains("sha256"));
}

// Letters and digits that zstd cannot shrink much, so the recording stays about this big.
std::string incompressible_text(std::size_t bytes) {
    static constexpr std::string_view kAlphabet =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string text(bytes, ' ');
    uint32_t state = 2463534242u;
    for (char& c : text) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        c = kAlphabet[state % kAlphabet.size()];
    }
    return text;
}

// Past the queue's bound a recording is dropped, never waited for: each dropped request still has
// its audit line, and the line says it was not recorded.
TEST(SessionRecorder, EveryDroppedRecordingIsNamedInTheAudit) {
    testing::ScratchDir scratch;
    AuditWriter audit(scratch.file("audit.jsonl"));
    std::vector<std::string> ids;
    {
        SessionRecorderOptions options{
            scratch.file("recordings"), "", {}, std::chrono::seconds(60)};
        // A sealed recording of more than 64 KiB cannot be queued; all the small ones together
        // stay under it.
        options.queue_max_bytes = 64 * 1024;
        SessionRecorder recorder(options, audit);
        const std::string large_body = incompressible_text(100 * 1024);
        for (int i = 0; i < 50; ++i) {
            RequestCapture capture;
            capture.mode = RecordMode::full;
            capture.connection = "c3";
            capture.request_body = i % 2 == 0 ? "" : large_body;
            AuditRecord record = request_record();
            ids.push_back(record.id);
            recorder.submit(record, std::move(capture));
        }
        recorder.flush();
        EXPECT_EQ(recorder.stats().dropped, 25u);
        EXPECT_EQ(recorder.stats().stored, 25u);
    }
    audit.flush();
    const auto lines = audit_lines(scratch.file("audit.jsonl"));
    ASSERT_EQ(lines.size(), ids.size()) << "one audit line per request, recorded or not";
    std::set<std::string> dropped, stored;
    for (const auto& line : lines) {
        const auto& recording = line["recording"];
        if (recording.contains("sha256"))
            stored.insert(line["id"]);
        else if (recording.value("error", "").find("not recorded") != std::string::npos)
            dropped.insert(line["id"]);
    }
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ((i % 2 == 0 ? stored : dropped).count(ids[i]), 1u) << "request " << i;
}

// Many requests at once are stored in batches, each audited with its own recording's hash.
TEST(SessionRecorder, ABurstIsStoredInBatchesEachLineNamingItsOwnRecording) {
    testing::ScratchDir scratch;
    AuditWriter audit(scratch.file("audit.jsonl"));
    std::map<std::string, std::string> body_of;
    {
        SessionRecorder recorder({scratch.file("recordings"), "", {}, std::chrono::seconds(60)},
                                 audit);
        for (int i = 0; i < 1000; ++i) {
            RequestCapture capture;
            capture.mode = RecordMode::full;
            capture.connection = "c4";
            capture.request_body = "{\"n\":" + std::to_string(i) + "}";
            AuditRecord record = request_record();
            body_of[record.id] = capture.request_body;
            recorder.submit(record, std::move(capture));
        }
        recorder.flush();
        EXPECT_EQ(recorder.stats().stored, 1000u);
        EXPECT_EQ(recorder.stats().dropped, 0u);
    }
    audit.flush();
    const auto lines = audit_lines(scratch.file("audit.jsonl"));
    ASSERT_EQ(lines.size(), 1000u);
    RecordingStore store(scratch.file("recordings"), "", false);
    EXPECT_EQ(store.files().size(), 1u);
    const auto index = store.index();
    for (const auto& line : lines) {
        const auto recording =
            nlohmann::json::parse(store.load(index.at(line["recording"]["sha256"])));
        EXPECT_EQ(recording["id"], line["id"]);
        EXPECT_EQ(recording["request"]["body"], body_of[line["id"]]);
    }
}

// A capture of megabytes is sealed before it reaches the audit writer (so the lines behind it
// do not wait for it) and stored and audited like any other.
TEST(SessionRecorder, ALargeRecordingIsStoredAndNamedLikeAnyOther) {
    testing::ScratchDir scratch;
    AuditWriter audit(scratch.file("audit.jsonl"));
    const std::string body = incompressible_text(3 * 1024 * 1024);
    {
        SessionRecorder recorder({scratch.file("recordings"), "", {}, std::chrono::seconds(60)},
                                 audit);
        for (const std::string& request_body : {body, std::string("{}")}) {
            RequestCapture capture;
            capture.mode = RecordMode::full;
            capture.connection = "c5";
            capture.request_body = request_body;
            recorder.submit(request_record(), std::move(capture));
        }
        recorder.flush();
        EXPECT_EQ(recorder.stats().stored, 2u);
    }
    audit.flush();
    const auto lines = audit_lines(scratch.file("audit.jsonl"));
    ASSERT_EQ(lines.size(), 2u);
    RecordingStore store(scratch.file("recordings"), "", false);
    const auto recording = nlohmann::json::parse(store.load(lines[0]["recording"]["sha256"]));
    EXPECT_EQ(recording["request"]["body"], body);
}

// The recording a line names is in its segment when the line reaches the audit file, however
// the requests' lines and recordings fall into batches (docs/recording.md, "Off the data path").
TEST(SessionRecorder, EveryRecordingIsOnDiskBeforeTheLineNamingIt) {
    testing::ScratchDir scratch;
    std::atomic<int> named{0}, found{0};
    AuditWriterOptions audit_options;
    audit_options.path = scratch.file("audit.jsonl");
    const std::string dir = scratch.file("recordings");
    audit_options.on_written = [&](std::string_view written) {
        RecordingStore store(dir, "", false);
        for (std::size_t at = 0; (at = written.find("\"sha256\":\"", at)) != std::string::npos;) {
            at += 10;
            const std::string sha(written.substr(at, 64));
            ++named;
            try {
                if (sha256_hex(store.load(sha)) == sha) ++found;
            } catch (const std::exception&) {
            }
        }
    };
    AuditWriter audit(audit_options);
    {
        SessionRecorder recorder({dir, "", {}, std::chrono::seconds(60)}, audit);
        std::vector<std::jthread> proxies;
        for (int t = 0; t < 4; ++t)
            proxies.emplace_back([&, t] {
                for (int i = 0; i < 200; ++i) {
                    RequestCapture capture;
                    capture.mode = i % 2 == 0 ? RecordMode::full : RecordMode::metadata;
                    capture.connection = "c" + std::to_string(t);
                    capture.request_body = "{\"n\":" + std::to_string(i) + "}";
                    recorder.submit(request_record(), std::move(capture));
                    if (i % 50 == 0) audit.write_record(request_record());  // no recording
                }
            });
        proxies.clear();
        recorder.flush();
        EXPECT_EQ(recorder.stats().stored, 800u);
    }
    audit.flush();
    EXPECT_EQ(named.load(), 800);
    EXPECT_EQ(found.load(), 800);
}

}  // namespace
}  // namespace sluice
