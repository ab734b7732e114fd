#include "agent/recording/session_recorder.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include "agent/common/sha256_hex.h"
#include "agent/recording/recording_json.h"

namespace sluice {

struct SessionRecorder::Sealing {
    explicit Sealing(std::string key) : sealer(std::move(key)) {}
    RecordingSealer sealer;  // from here, the writer thread's alone
    std::string json;
    std::atomic<uint64_t> failed{0};  // could not be built or sealed
};

namespace {

// A capture this big is sealed on the thread that submits it, not in the audit writer's batch:
// sealing takes milliseconds at this size (about 3 ms a MiB), which the lines behind it in the
// batch, and the answers waiting for their "forwarded" line, would wait for.
constexpr std::size_t kSealInBatchMaxBytes = 1024 * 1024;

std::size_t capture_bytes(const RequestCapture& capture) {
    std::size_t bytes = capture.request_body.size() + capture.response_body.size() +
                        capture.pieces.size() * sizeof(AnswerPiece);
    for (const RealtimeEventCapture& event : capture.realtime_events)
        bytes += sizeof(event) + event.data.size();
    return bytes;
}

// A recorded request's audit line, made on the audit writer's thread with its recording.
class RecordingLine final : public AuditDeferredLine {
public:
    RecordingLine(std::shared_ptr<SessionRecorder::Sealing> sealing, const AuditRecord& record,
                  RequestCapture capture)
        : sealing_(std::move(sealing)), record_(record), capture_(std::move(capture)) {
        // The connection's identity text may be gone by the time the line is made.
        capture_.identity = std::string(record.identity);
        record_.identity = capture_.identity;
    }

    void make(std::string& line, std::string& attachment) override {
        if (sealed_) {
            line.swap(line_);
            attachment.swap(attachment_);
            return;
        }
        seal(sealing_->sealer, sealing_->json, line, attachment);
    }

    // Now, on this thread, with contexts of its own (a large capture).
    void seal_now(const std::string& key) {
        RecordingSealer sealer(key);
        std::string json;
        seal(sealer, json, line_, attachment_);
        sealed_ = true;
    }

private:
    void seal(RecordingSealer& sealer, std::string& json, std::string& line,
              std::string& attachment) {
        std::string session = session_of(capture_);
        try {
            json.clear();
            append_recording_json(json, record_, capture_);
            std::string sha = sha256_hex(json);
            sealer.append_entry(attachment, sha, json);
            record_.recording = RecordingReference{.error = "",
                                                   .mode = std::string(to_string(capture_.mode)),
                                                   .session = std::move(session),
                                                   .sha256 = std::move(sha)};
        } catch (const std::exception& e) {
            spdlog::error("recording {}: {}", record_.id, e.what());
            attachment.clear();
            record_.recording =
                RecordingReference{.error = e.what(), .mode = "", .session = session, .sha256 = ""};
            ++sealing_->failed;
        }
        record_.append_line(line);
    }

    std::shared_ptr<SessionRecorder::Sealing> sealing_;
    AuditRecord record_;
    RequestCapture capture_;
    bool sealed_ = false;
    std::string line_, attachment_;  // when sealed_
};

}  // namespace

SessionRecorder::SessionRecorder(SessionRecorderOptions options, AuditWriter& audit)
    : options_(std::move(options)),
      audit_(audit),
      store_(options_.dir, options_.key, true),
      writer_(options_.dir, options_.key, segment_limits_for(options_.retention)),
      sealing_(std::make_shared<Sealing>(options_.key)) {
    store_.remove_temporaries();
    stats_.removed = store_.enforce(options_.retention, std::chrono::system_clock::now());
    audit_.set_attachment_store(this, options_.queue_max_requests, options_.queue_max_bytes);
    retention_thread_ = std::jthread([this](std::stop_token stop) { run_retention(stop); });
}

SessionRecorder::~SessionRecorder() {
    retention_thread_ = {};  // requests stop and joins
    audit_.flush();
    audit_.set_attachment_store(nullptr, 0, 0);
}

void SessionRecorder::submit(const AuditRecord& record, RequestCapture capture) {
    const std::size_t bytes = capture_bytes(capture);
    auto line = std::make_unique<RecordingLine>(sealing_, record, std::move(capture));
    if (bytes > kSealInBatchMaxBytes) line->seal_now(options_.key);
    if (audit_.write_deferred(record, std::move(line), bytes) != 0) return;
    {
        std::lock_guard lock(stats_mutex_);
        ++stats_.dropped;
    }
    AuditRecord dropped = record;
    dropped.recording = RecordingReference{
        .error = "recorder queue full: not recorded", .mode = "", .session = "", .sha256 = ""};
    audit_.write_record(dropped);
}

std::string SessionRecorder::store(std::string_view entries, std::size_t count) {
    std::string error;
    {
        std::lock_guard lock(segment_mutex_);
        try {
            writer_.write(entries);
        } catch (const std::exception& e) {
            error = e.what();
        }
    }
    std::lock_guard lock(stats_mutex_);
    if (error.empty()) {
        stats_.stored += count;
        stats_.stored_bytes += entries.size();
    } else {
        spdlog::error("recordings: {} not stored: {}", count, error);
        stats_.failed += count;
    }
    return error;
}

void SessionRecorder::flush() { audit_.flush(); }

SessionRecorderStats SessionRecorder::stats() const {
    std::lock_guard lock(stats_mutex_);
    SessionRecorderStats stats = stats_;
    stats.failed += sealing_->failed.load();
    return stats;
}

nlohmann::json SessionRecorder::status_json() const {
    const SessionRecorderStats s = stats();
    return {{"dir", options_.dir},
            {"encrypted", !options_.key.empty()},
            {"stored", s.stored},
            {"stored_bytes", s.stored_bytes},
            {"failed", s.failed},
            {"dropped", s.dropped},
            {"removed_by_retention", s.removed}};
}

void SessionRecorder::run_retention(std::stop_token stop) {
    std::unique_lock lock(retention_mutex_);
    while (!retention_wake_.wait_for(lock, stop, options_.retention_interval, [] {
        return false;
    }) && !stop.stop_requested())
        apply_retention();
}

void SessionRecorder::apply_retention() {
    std::size_t removed = 0;
    try {
        std::lock_guard lock(segment_mutex_);
        removed =
            store_.enforce(options_.retention, std::chrono::system_clock::now(), writer_.segment());
    } catch (const std::exception& e) {
        spdlog::warn("recordings: retention: {}", e.what());
    }
    std::lock_guard lock(stats_mutex_);
    stats_.removed += removed;
}

}  // namespace sluice
