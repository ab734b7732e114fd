// The recorder with a real audit writer: the audit line is written after the recording is on
// disk and carries its hash; a recording that cannot be stored leaves the line saying why.
#include "agent/recording/session_recorder.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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

}  // namespace
}  // namespace sluice
