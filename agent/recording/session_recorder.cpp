#include "agent/recording/session_recorder.h"

#include <spdlog/spdlog.h>

#include "agent/common/sha256_hex.h"
#include "agent/recording/recording_json.h"

namespace sluice {

SessionRecorder::SessionRecorder(SessionRecorderOptions options, AuditWriter& audit)
    : options_(std::move(options)),
      audit_(audit),
      store_(options_.dir, options_.key, true),
      writer_(options_.dir, options_.key, segment_limits_for(options_.retention)) {
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
    // Reused by each proxy thread, so a recording allocates nothing once they have grown.
    thread_local std::string json;
    thread_local std::string entry;
    capture.identity = std::string(record.identity);
    AuditRecord audited = record;
    const std::string session = session_of(capture);
    try {
        json.clear();
        append_recording_json(json, record, capture);
        const std::string sha = sha256_hex(json);
        entry.clear();
        std::unique_ptr<RecordingSealer> sealer = take_sealer();
        sealer->append_entry(entry, sha, json);
        give_back(std::move(sealer));
        audited.recording = nlohmann::json{
            {"mode", std::string(to_string(capture.mode))}, {"session", session}, {"sha256", sha}};
        if (audit_.write_record_with_attachment(audited, entry) != 0) return;
        audited.recording = nlohmann::json{{"error", "recorder queue full: not recorded"}};
        std::lock_guard lock(stats_mutex_);
        ++stats_.dropped;
    } catch (const std::exception& e) {
        spdlog::error("recording {}: {}", record.id, e.what());
        audited.recording = nlohmann::json{{"error", e.what()}, {"session", session}};
        std::lock_guard lock(stats_mutex_);
        ++stats_.failed;
    }
    audit_.write_record(audited);
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

std::unique_ptr<RecordingSealer> SessionRecorder::take_sealer() {
    {
        std::lock_guard lock(sealers_mutex_);
        if (!spare_sealers_.empty()) {
            auto sealer = std::move(spare_sealers_.back());
            spare_sealers_.pop_back();
            return sealer;
        }
    }
    return std::make_unique<RecordingSealer>(options_.key);
}

void SessionRecorder::give_back(std::unique_ptr<RecordingSealer> sealer) {
    std::lock_guard lock(sealers_mutex_);
    spare_sealers_.push_back(std::move(sealer));
}

void SessionRecorder::flush() { audit_.flush(); }

SessionRecorderStats SessionRecorder::stats() const {
    std::lock_guard lock(stats_mutex_);
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
