// Records requests whose rule says `record: metadata | full` (docs/recording.md). The proxy
// hands over the request's final audit record and its capture as one deferred audit line
// (audit_attachment.h): the audit writer's thread, in the batch it writes anyway, builds each
// recording's JSON text, hashes it and seals it (zstd, and AES-256-GCM with a key), appends the
// batch's recordings to the segment file with one write (the recorder is its
// AuditAttachmentStore) and only then writes the batch's lines, each naming its recording's
// hash. So the audit never names a recording that is not on disk, and a recorded request costs
// the one hand-off to another thread an unrecorded one does: a recorder thread of its own cost
// more in wakeups than the recording itself (docs/benchmarks.md, "Session recording: history").
// A recording that cannot be stored (disk, a full queue) leaves the audit line saying why; the
// request was never held up for it. Retention runs on a thread of its own, once a minute.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_attachment.h"
#include "agent/audit/audit_record.h"
#include "agent/audit/audit_writer.h"
#include "agent/common/limits.h"
#include "agent/recording/recording_codec.h"
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

class SessionRecorder final : private AuditAttachmentStore {
public:
    // Creates the directory (0700); throws std::runtime_error naming it when it cannot.
    SessionRecorder(SessionRecorderOptions options, AuditWriter& audit);
    ~SessionRecorder() override;  // stores what is queued, then stops
    SessionRecorder(const SessionRecorder&) = delete;
    SessionRecorder& operator=(const SessionRecorder&) = delete;

    // Takes the request's final record in place of AuditWriter::write_record. Never blocks on
    // I/O.
    void submit(const AuditRecord& record, RequestCapture capture);
    void flush();  // waits until everything submitted so far is stored and audited
    SessionRecorderStats stats() const;
    nlohmann::json status_json() const;

    // What the audit writer's thread seals recordings with; shared with the lines waiting to be
    // made, which may outlive the recorder at shutdown.
    struct Sealing;

private:
    // The audit writer's thread: a batch's recordings, appended to the segment.
    std::string store(std::string_view entries, std::size_t count) override;
    void run_retention(std::stop_token stop);
    void apply_retention();

    const SessionRecorderOptions options_;
    AuditWriter& audit_;
    RecordingStore store_;
    // Held by the writer's thread while it appends and by retention while it removes segments,
    // so retention never removes the segment being written.
    std::mutex segment_mutex_;
    RecordingSegmentWriter writer_;
    std::shared_ptr<Sealing> sealing_;
    mutable std::mutex stats_mutex_;
    SessionRecorderStats stats_;
    std::mutex retention_mutex_;
    std::condition_variable_any retention_wake_;
    std::jthread retention_thread_;
};

}  // namespace sluice
