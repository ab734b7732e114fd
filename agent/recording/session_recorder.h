// Records requests whose rule says `record: metadata | full` (docs/recording.md), off the data
// path: the proxy hands over the request's final audit record and its capture; this class's
// thread takes what is queued as one batch, builds and seals each recording, appends the batch
// to the segment file with one write (recording_segment_writer.h) and then writes the audit
// lines with the recordings' hashes, so the audit never names a recording that is not on disk. A
// recording that cannot be stored (disk, a full queue) leaves the audit line saying why; the
// request itself was never held up for it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_record.h"
#include "agent/audit/audit_writer.h"
#include "agent/common/limits.h"
#include "agent/recording/recording_segment_writer.h"
#include "agent/recording/recording_store.h"
#include "agent/recording/request_capture.h"

namespace sluice {

struct SessionRecorderOptions {
    std::string dir;
    std::string key;  // AES-256-GCM key (32 bytes); empty: not encrypted
    RecordingRetention retention;
    std::chrono::seconds retention_interval{60};  // how often retention is applied
    // Past either bound a recording is dropped and its audit line says so.
    std::size_t queue_max_requests = limits::kRecordingQueueMaxRequests;
    std::size_t queue_max_bytes = limits::kRecordingQueueMaxBytes;
};

struct SessionRecorderStats {
    uint64_t stored = 0;
    uint64_t failed = 0;   // could not be stored (the audit line says why)
    uint64_t dropped = 0;  // the queue was full
    uint64_t removed = 0;  // by retention
    uint64_t stored_bytes = 0;
};

class SessionRecorder {
public:
    // Creates the directory (0700); throws std::runtime_error naming it when it cannot.
    SessionRecorder(SessionRecorderOptions options, AuditWriter& audit);
    ~SessionRecorder();  // stores what is queued, then stops
    SessionRecorder(const SessionRecorder&) = delete;
    SessionRecorder& operator=(const SessionRecorder&) = delete;

    // Takes the request's final record in place of AuditWriter::write_record. Never blocks on I/O.
    void submit(const AuditRecord& record, RequestCapture capture);
    void flush();  // waits until everything submitted so far is stored and audited
    SessionRecorderStats stats() const;
    nlohmann::json status_json() const;

private:
    struct Job {
        AuditRecord record;
        RequestCapture capture;
    };
    void run(std::stop_token stop);
    void record_batch(std::vector<std::unique_ptr<Job>>& batch);
    void apply_retention();

    const SessionRecorderOptions options_;
    AuditWriter& audit_;
    RecordingStore store_;
    RecordingSegmentWriter writer_;  // the recorder thread's alone, as is json_
    std::string json_;
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    std::condition_variable done_;
    std::deque<std::unique_ptr<Job>> queue_;
    std::size_t queued_bytes_ = 0;
    uint64_t submitted_ = 0;
    uint64_t finished_ = 0;
    SessionRecorderStats stats_;
    std::jthread thread_;
};

}  // namespace sluice
