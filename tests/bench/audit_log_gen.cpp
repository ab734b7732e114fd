// Writes a realistic audit log for `scripts/bench audit` with sluiced's own writers: for each
// request a "forwarded" line and its final line through the SessionRecorder (`record: full`,
// a 1 KB chat request and its answer), sealed into the hash chain, signed checkpoints every
// 1000 records, rotated by size, until the audit holds --mb megabytes. Prints one JSON object:
// requests, audit and recording bytes on disk, files, and the writing process's CPU.
//   audit-log-gen --dir DIR [--mb 300] [--rotate-mb 64]
// DIR gets audit/audit.jsonl (and its rotated files) and state/ (signing key, recordings).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_record.h"
#include "agent/audit/audit_signer.h"
#include "agent/audit/audit_writer.h"
#include "agent/recording/session_recorder.h"

using namespace sluice;

namespace {

// The identity object sluiced writes for a process it intercepted (the shape of a real line).
constexpr std::string_view kIdentity =
    R"({"cgroup":"/user.slice/user-1000.slice/session-4.scope","cgroup_id":20353,)"
    R"("cmdline":"python3 agent.py --task nightly-report --model gpt-4o-mini","comm":"python3",)"
    R"("exe":"/usr/bin/python3.11","exe_trusted":true,"gid":1000,"groups":["alice","ml"],)"
    R"("pid":15125,"slice":"user-1000.slice","uid":1000,"unit":"session-4.scope","user":"alice"})";

constexpr std::string_view kUsage =
    R"({"prompt_tokens":233,"completion_tokens":234,"total_tokens":467,)"
    R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
    R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})";

std::string lorem(std::size_t bytes, unsigned seed) {
    static constexpr std::string_view kWords[] = {"the ",     "model ", "returns ", "a ",
                                                  "summary ", "of ",    "report ",  "for ",
                                                  "quarter ", "users ", "review ",  "section "};
    std::string text;
    for (unsigned i = seed; text.size() < bytes; i = i * 1103515245u + 12345u)
        text += kWords[(i >> 16) % std::size(kWords)];
    text.resize(bytes);
    return text;
}

AuditRecord request_record(uint64_t n) {
    AuditRecord record;
    record.id = new_audit_id();
    record.started = std::chrono::system_clock::now();
    record.identity = kIdentity;
    record.sni = "api.openai.com";
    record.original_destination = "203.0.113.7:443";
    record.method = "POST";
    record.path = "/v1/chat/completions";
    record.model = "gpt-4o-mini";
    record.request_bytes = 1024;
    record.client_key_fingerprint = "sha256:816adcba2329";
    record.rule = "agents";
    record.reason = "allowed by rule agents";
    record.upstream_connection_reused = n % 16 != 0;
    return record;
}

uint64_t bytes_under(const std::filesystem::path& dir) {
    uint64_t total = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec))
        if (entry.is_regular_file()) total += entry.file_size();
    return total;
}

double process_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    uint64_t target_mb = 300, rotate_mb = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
        if (std::strcmp(argv[i], "--mb") == 0) target_mb = std::strtoull(argv[i + 1], nullptr, 10);
        if (std::strcmp(argv[i], "--rotate-mb") == 0)
            rotate_mb = std::strtoull(argv[i + 1], nullptr, 10);
    }
    if (dir.empty()) {
        std::fprintf(stderr, "usage: audit-log-gen --dir DIR [--mb 300] [--rotate-mb 64]\n");
        return 2;
    }
    const std::string state = dir + "/state";
    std::filesystem::create_directories(state);
    AuditWriterOptions options;
    options.path = dir + "/audit/audit.jsonl";
    options.rotate_bytes = rotate_mb * 1000 * 1000;
    options.signer = std::make_shared<const AuditSigner>(AuditSigner::load_or_create(state));
    uint64_t requests = 0;
    {
        AuditWriter audit(options);
        SessionRecorder recorder({state + "/recordings", "", {}, std::chrono::seconds(3600)},
                                 audit);
        const std::string answer_text = lorem(900, 7);
        while (bytes_under(dir + "/audit") < target_mb * 1000 * 1000) {
            // In steps the recorder's queue holds (limits::kRecordingQueueMaxRequests), as a
            // busy proxy hands them over: none is dropped.
            for (int i = 0; i < 500; ++i, ++requests) {
                AuditRecord record = request_record(requests);
                record.kind = "forwarded";
                audit.write_record(record);
                record.kind = "request";
                record.status = record.upstream_status = 200;
                record.response_bytes = 1499;
                record.latency_ms = 412.5 + static_cast<double>(requests % 97);
                record.upstream_ttfb_ms = 230.25;
                record.usage = UsageObject{std::string(kUsage)};
                RequestCapture capture;
                capture.mode = RecordMode::full;
                capture.connection = std::to_string(requests / 50);
                capture.request_content_type = "application/json";
                capture.request_body =
                    R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":")" +
                    lorem(900, static_cast<unsigned>(requests)) + R"("}]})";
                capture.response_content_type = "application/json";
                capture.response_body =
                    R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,)"
                    R"("message":{"role":"assistant","content":")" +
                    answer_text + R"("},"finish_reason":"stop"}]})";
                recorder.submit(record, std::move(capture));
            }
            recorder.flush();
        }
    }  // a clean stop: the shutdown checkpoint seals the chain
    const nlohmann::json report = {{"requests", requests},
                                   {"audit_bytes", bytes_under(dir + "/audit")},
                                   {"recording_bytes", bytes_under(state + "/recordings")},
                                   {"audit_files", rotated_audit_files(options.path).size() + 1},
                                   {"cpu_s", process_cpu_seconds()}};
    std::puts(report.dump().c_str());
    return 0;
}
