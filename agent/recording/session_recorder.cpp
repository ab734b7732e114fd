#include "agent/recording/session_recorder.h"

#include <spdlog/spdlog.h>

#include "agent/common/limits.h"
#include "agent/recording/recording_json.h"

namespace sluice {

namespace {

// At most this many queued recordings are taken as one batch (one segment write), so the audit
// lines of the first ones in a long queue are not held back for the rest.
constexpr std::size_t kBatchMaxRequests = 256;

std::size_t capture_bytes(const RequestCapture& capture) {
    std::size_t bytes = capture.request_body.size() + capture.response_body.size() +
                        capture.pieces.size() * sizeof(AnswerPiece);
    for (const RealtimeEventCapture& event : capture.realtime_events)
        bytes += sizeof(event) + event.data.size();
    return bytes;
}

}  // namespace

SessionRecorder::SessionRecorder(SessionRecorderOptions options, AuditWriter& audit)
    : options_(std::move(options)),
      audit_(audit),
      store_(options_.dir, options_.key, true),
      writer_(options_.dir, options_.key, segment_limits_for(options_.retention)) {
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
        if (queue_.size() < options_.queue_max_requests &&
            queued_bytes_ + bytes <= options_.queue_max_bytes) {
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
    std::vector<std::unique_ptr<Job>> batch;
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait_for(lock, stop, options_.retention_interval, [&] { return !queue_.empty(); });
        while (!queue_.empty()) {
            // Everything queued goes as one batch: one write, and the audit lines together, so
            // the recorder keeps up by doing more per wakeup when the proxy is busy.
            while (!queue_.empty() && batch.size() < kBatchMaxRequests) {
                queued_bytes_ -= capture_bytes(queue_.front()->capture);
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
            lock.unlock();
            record_batch(batch);
            const std::size_t done = batch.size();
            batch.clear();
            lock.lock();
            finished_ += done;
            done_.notify_all();
        }
        if (std::chrono::steady_clock::now() >= next_retention) {
            lock.unlock();
            apply_retention();
            lock.lock();
            next_retention = std::chrono::steady_clock::now() + options_.retention_interval;
        }
        if (stop.stop_requested() && queue_.empty()) return;
    }
}

void SessionRecorder::apply_retention() {
    std::size_t removed = 0;
    try {
        removed =
            store_.enforce(options_.retention, std::chrono::system_clock::now(), writer_.segment());
    } catch (const std::exception& e) {
        spdlog::warn("recordings: retention: {}", e.what());
    }
    std::lock_guard lock(mutex_);
    stats_.removed += removed;
}

void SessionRecorder::record_batch(std::vector<std::unique_ptr<Job>>& batch) {
    struct Outcome {
        std::string session;
        std::string sha;
        uint64_t bytes = 0;
        std::string error;
    };
    std::vector<Outcome> outcomes(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        Job& job = *batch[i];
        job.record.identity = job.capture.identity;
        outcomes[i].session = session_of(job.capture);
        try {
            json_.clear();
            append_recording_json(json_, job.record, job.capture);
            outcomes[i].sha = writer_.add(json_, &outcomes[i].bytes);
        } catch (const std::exception& e) {
            outcomes[i].error = e.what();
        }
    }
    try {
        writer_.commit();
    } catch (const std::exception& e) {
        for (Outcome& o : outcomes)
            if (o.error.empty()) o.error = e.what();
    }
    SessionRecorderStats added;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        AuditRecord& record = batch[i]->record;
        const Outcome& o = outcomes[i];
        if (o.error.empty()) {
            record.recording =
                nlohmann::json{{"mode", std::string(to_string(batch[i]->capture.mode))},
                               {"session", o.session},
                               {"sha256", o.sha}};
            ++added.stored;
            added.stored_bytes += o.bytes;
        } else {
            spdlog::error("recording {}: {}", record.id, o.error);
            record.recording = nlohmann::json{{"error", o.error}, {"session", o.session}};
            ++added.failed;
        }
        audit_.write_record(record);
    }
    std::lock_guard lock(mutex_);
    stats_.stored += added.stored;
    stats_.stored_bytes += added.stored_bytes;
    stats_.failed += added.failed;
}

}  // namespace sluice
