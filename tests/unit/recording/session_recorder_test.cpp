// The recorder with a real audit writer: the audit line is written after the recording is on
// disk and carries its hash; a recording that cannot be stored leaves the line saying why.
#include "agent/recording/session_recorder.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

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

// Past the queue's bound a recording is dropped, never waited for: each dropped request still has
// its audit line, and the line says it was not recorded.
TEST(SessionRecorder, EveryDroppedRecordingIsNamedInTheAudit) {
    testing::ScratchDir scratch;
    AuditWriter audit(scratch.file("audit.jsonl"));
    std::vector<std::string> ids;
    {
        SessionRecorderOptions options{
            scratch.file("recordings"), "", {}, std::chrono::seconds(60)};
        options.queue_max_bytes = 100;  // a capture of more than 100 bytes cannot be queued
        SessionRecorder recorder(options, audit);
        for (int i = 0; i < 50; ++i) {
            RequestCapture capture;
            capture.mode = RecordMode::full;
            capture.connection = "c3";
            capture.request_body = std::string(i % 2 == 0 ? 0 : 500, 'x');
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

}  // namespace
}  // namespace sluice
