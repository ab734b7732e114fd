// Where the recorder's time goes per recorded request (docs/benchmarks.md, "Session
// recording"): the steps of one recording timed apart on this thread, and the recorder with a
// real audit writer end to end. Disabled: a benchmark run by hand, not a check.
//   build/bin/unit_recording --gtest_also_run_disabled_tests --gtest_filter='*RecorderCost*'
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <cstdio>

#include "agent/common/sha256_hex.h"
#include "agent/recording/recording_json.h"
#include "agent/recording/recording_segment_writer.h"
#include "agent/recording/session_recorder.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

// A 1 KB chat request and its ~1 KB JSON answer, as a `record: full` rule keeps them.
RequestCapture chat_capture(RecordMode mode) {
    RequestCapture c;
    c.mode = mode;
    c.connection = "0123456789abcdef";
    c.identity =
        R"({"uid":1000,"user":"alice","pid":4242,"exe":"/usr/bin/node","comm":"node",)"
        R"("cgroup":"/user.slice/user-1000.slice/session-1.scope","unit":"session-1.scope"})";
    c.user_agent = "OpenAI/JS 4.104.0";
    c.request_content_type = "application/json";
    c.request_body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":")" +
                     std::string(900, 'q') + R"("}]})";
    c.response_content_type = "application/json";
    c.response_body = R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,)"
                      R"("message":{"role":"assistant","content":")" +
                      std::string(800, 'a') + R"("},"finish_reason":"stop"}]})";
    c.pieces = {{c.response_body.size(), 1.25}};
    return c;
}

AuditRecord chat_record() {
    AuditRecord r;
    r.id = new_audit_id();
    r.method = "POST";
    r.path = "/v1/chat/completions";
    r.model = "gpt-4o-mini";
    r.status = 200;
    r.sni = "api.openai.com";
    r.rule = "bench";
    r.identity = chat_capture(RecordMode::full).identity;
    r.usage = UsageObject{R"({"prompt_tokens":250,"completion_tokens":200,"total_tokens":450})"};
    return r;
}

double cpu_us(clockid_t clock) {
    timespec t{};
    ::clock_gettime(clock, &t);
    return double(t.tv_sec) * 1e6 + double(t.tv_nsec) / 1e3;
}

// Thread CPU per call: the machine is shared, so wall time would count other processes' turns.
template <typename F>
double us_per(int n, F&& f) {
    const double start = cpu_us(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < n; ++i) f(i);
    return (cpu_us(CLOCK_THREAD_CPUTIME_ID) - start) / n;
}

TEST(RecorderCost, DISABLED_StepsOfOneRecording) {
    constexpr int kN = 5000;
    testing::ScratchDir scratch;
    for (RecordMode mode : {RecordMode::metadata, RecordMode::full}) {
        const RequestCapture capture = chat_capture(mode);
        const AuditRecord record = chat_record();
        std::string json;
        const double build = us_per(kN, [&](int) {
            json.clear();
            append_recording_json(json, record, capture);
        });
        const double hash = us_per(kN, [&](int) { (void)sha256_hex(json); });
        RecordingSealer sealer("");
        std::string out;
        const double seal = us_per(kN, [&](int) {
            out.clear();
            sealer.append_entry(out, std::string(64, '0'), json);
        });
        RecordingSegmentWriter writer(scratch.path(), "", {});
        const double write = us_per(kN, [&](int i) {
            (void)writer.add(json);
            if (i % 16 == 15) writer.commit();
        });
        std::printf(
            "%s: %zu B JSON, %zu B sealed; build %.2f µs, sha256 %.2f µs, seal %.2f µs, "
            "hash+seal+append (batches of 16) %.2f µs\n",
            std::string(to_string(mode)).c_str(), json.size(), out.size(), build, hash, seal,
            write);
    }
}

TEST(RecorderCost, DISABLED_RecorderEndToEnd) {
    constexpr int kN = 20000;
    for (RecordMode mode : {RecordMode::none, RecordMode::metadata, RecordMode::full}) {
        testing::ScratchDir scratch;
        AuditWriter audit(scratch.file("audit.jsonl"));
        SessionRecorder recorder({scratch.file("recordings"), "", {}, std::chrono::seconds(60)},
                                 audit);
        const AuditRecord record = chat_record();
        // Submitted in bursts of 256, each waited for, as a busy proxy hands them over: the
        // process's CPU (this thread, the recorder's and the audit writer's) per recording.
        const double start = cpu_us(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < kN; ++i) {
            if (mode == RecordMode::none)
                audit.write_record(record);  // the audit line alone, as without a recording
            else
                recorder.submit(record, chat_capture(mode));
            if (i % 256 == 255) recorder.flush();
        }
        recorder.flush();
        audit.flush();
        const double per = (cpu_us(CLOCK_PROCESS_CPUTIME_ID) - start) / kN;
        const auto stats = recorder.stats();
        std::printf(
            "%s: %d recordings, %.2f µs process CPU each (audit line included), %llu "
            "stored, %llu dropped\n",
            std::string(to_string(mode)).c_str(), kN, per,
            static_cast<unsigned long long>(stats.stored),
            static_cast<unsigned long long>(stats.dropped));
    }
}

}  // namespace
}  // namespace sluice
