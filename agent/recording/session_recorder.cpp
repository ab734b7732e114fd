#include "agent/recording/session_recorder.h"

#include <spdlog/spdlog.h>

#include "agent/common/limits.h"
#include "agent/recording/recording_json.h"

namespace sluice {

namespace {

std::size_t capture_bytes(const RequestCapture& capture) {
    return capture.request_body.size() + capture.response_body.size() +
           capture.pieces.size() * sizeof(AnswerPiece);
}

}  // namespace

SessionRecorder::SessionRecorder(SessionRecorderOptions options, AuditWriter& audit)
    : options_(std::move(options)), audit_(audit), store_(options_.dir, options_.key, true) {
    store_.remove_temporaries();
    stats_.removed = store_.enforce(options_.retention, std::chrono::system_clock::now());
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

SessionRecorder::~SessionRecorder() {
    thread_.request_stop();
    wake_.notify_all();
}

void SessionRecorder::submit(const AuditRecord& record, RequestCapture capture) {
    auto job = std::make_unique<Job>(Job{record, std::move(capture)});
    job->capture.identity = std::string(record.identity);
    const std::size_t bytes = capture_bytes(job->capture);
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() < limits::kRecordingQueueMaxRequests &&
            queued_bytes_ + bytes <= limits::kRecordingQueueMaxBytes) {
            queued_bytes_ += bytes;
            ++submitted_;
            queue_.push_back(std::move(job));
            wake_.notify_one();
            return;
        }
        ++stats_.dropped;
    }
    AuditRecord dropped = record;
    dropped.recording = nlohmann::json{{"error", "recorder queue full: not recorded"}};
    audit_.write_record(dropped);
}

void SessionRecorder::flush() {
    std::unique_lock lock(mutex_);
    const uint64_t target = submitted_;
    done_.wait(lock, [&] { return finished_ >= target; });
}

SessionRecorderStats SessionRecorder::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
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

void SessionRecorder::run(std::stop_token stop) {
    auto next_retention = std::chrono::steady_clock::now() + options_.retention_interval;
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait_for(lock, stop, options_.retention_interval, [&] { return !queue_.empty(); });
        while (!queue_.empty()) {
            std::unique_ptr<Job> job = std::move(queue_.front());
            queue_.pop_front();
            queued_bytes_ -= capture_bytes(job->capture);
            lock.unlock();
            record_one(*job);
            lock.lock();
            ++finished_;
            done_.notify_all();
        }
        if (std::chrono::steady_clock::now() >= next_retention) {
            lock.unlock();
            std::size_t removed = 0;
            try {
                removed = store_.enforce(options_.retention, std::chrono::system_clock::now());
            } catch (const std::exception& e) {
                spdlog::warn("recordings: retention: {}", e.what());
            }
            lock.lock();
            stats_.removed += removed;
            next_retention = std::chrono::steady_clock::now() + options_.retention_interval;
        }
        if (stop.stop_requested() && queue_.empty()) return;
    }
}

void SessionRecorder::record_one(Job& job) {
    AuditRecord& record = job.record;
    record.identity = job.capture.identity;
    const std::string session = session_of(job.capture);
    try {
        const std::string json = recording_json(record, job.capture).dump();
        uint64_t file_bytes = 0;
        const std::string sha = store_.store(json, &file_bytes);
        record.recording = nlohmann::json{{"mode", std::string(to_string(job.capture.mode))},
                                          {"session", session},
                                          {"sha256", sha}};
        std::lock_guard lock(mutex_);
        ++stats_.stored;
        stats_.stored_bytes += file_bytes;
    } catch (const std::exception& e) {
        spdlog::error("recording {}: {}", record.id, e.what());
        record.recording = nlohmann::json{{"error", e.what()}, {"session", session}};
        std::lock_guard lock(mutex_);
        ++stats_.failed;
    }
    audit_.write_record(record);
}

}  // namespace sluice
