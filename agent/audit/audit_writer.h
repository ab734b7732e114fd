// Appends audit records (one JSON object per line) from a background thread, so the data path
// never blocks on disk. A failed write is itself recorded: the writer keeps the records it could
// not write (bounded), retries, and on recovery writes an "audit_gap" record naming what was lost.
// Records are written in batches (group commit): the first record of a batch wakes the writer,
// which lingers up to kAuditBatchLinger for more (or until kAuditBatchMaxRecords are queued) and
// writes them with one writev. So a busy proxy pays one wakeup and one syscall per batch, not
// per request, and a record reaches the file at most a few milliseconds after the request. A
// record someone will wait for (write_awaited_record) is written without lingering.
//
// Tamper evidence (docs/audit.md) is the writer thread's job too, so the proxy threads pay
// nothing for it: each line is sealed into the hash chain (audit_chain.h) as it is written,
// a signed checkpoint follows every checkpoint_records lines or checkpoint_interval, at each
// rotation and at shutdown, and at start a chain the last run left unsealed (kill -9) is
// continued with an "audit_recovery" record that also seals a line the crash cut.
//
// A line may be made on the writer thread, with an attachment (a session recording,
// audit_attachment.h): the batch's attachments are stored before its lines are written.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_attachment.h"
#include "agent/audit/audit_chain.h"
#include "agent/audit/audit_record.h"
#include "agent/audit/audit_signer.h"

namespace sluice {

inline constexpr std::chrono::milliseconds kAuditBatchLinger{2};
inline constexpr std::size_t kAuditBatchMaxRecords = 512;
// Written lines kept for reuse (their strings, emptied), and the longest one worth keeping.
inline constexpr std::size_t kAuditSpareLines = 1024;
inline constexpr std::size_t kAuditSpareLineMaxBytes = 4096;
inline constexpr std::size_t kAuditSpareAttachmentMaxBytes = 16 * 1024;

// How much of the end of the file is read at start to find where the chain stands.
inline constexpr std::size_t kAuditTailReadBytes = 1024 * 1024;

struct AuditWriterOptions {
    std::string path;
    uint64_t rotate_bytes = 0;                // checked before each batch; 0 = never
    std::chrono::seconds rotate_interval{0};  // since the last rotation; 0 = never
    uint32_t keep_files = 0;                  // rotated files kept (oldest removed); 0 = all
    uint64_t checkpoint_records = 1000;
    std::chrono::milliseconds checkpoint_interval{60'000};
    std::chrono::milliseconds batch_linger = kAuditBatchLinger;
    std::shared_ptr<const AuditSigner> signer;  // null: chained but never signed (no checkpoints)
    std::function<std::chrono::system_clock::time_point()> clock = [] {
        return std::chrono::system_clock::now();
    };
    // Sees every record passed to write_record, on the caller's thread (metrics); must not
    // block.
    std::function<void(const AuditRecord&)> observer;
    // Gets the sealed bytes of each successful write (whole lines, checkpoints included), on
    // the writer thread, after they are in the file (audit shipping); must not block long.
    std::function<void(std::string_view)> on_written;
    // Besides the file, what healthy() also needs (audit shipping's spool within its bound).
    std::function<bool()> also_healthy;
};

// `<path>.<N>`: the rotated files of `path`, oldest (smallest N) first.
std::vector<std::string> rotated_audit_files(const std::string& path);

struct AuditStats {
    uint64_t written = 0;
    uint64_t batches = 0;  // successful writes of one or more records
    uint64_t lost = 0;     // dropped because the queue was full while the file failed
    uint64_t write_errors = 0;
    bool healthy = true;  // false from a failed write until the next successful one
    std::string last_error;
    uint64_t checkpoints = 0;
    uint64_t rotations = 0;
    bool recovered_unclean_stop = false;  // this start sealed a chain the last run left open
    uint64_t queued = 0;  // records handed to the writer and not yet written or given up
};

class AuditWriter {
public:
    // Opens (creating, mode 0600) the file and its directory (0700). Throws std::runtime_error
    // with one line naming the path if it cannot.
    explicit AuditWriter(std::string path);
    explicit AuditWriter(AuditWriterOptions options);
    ~AuditWriter();  // drains what is queued, then stops
    AuditWriter(const AuditWriter&) = delete;
    AuditWriter& operator=(const AuditWriter&) = delete;

    // Neither blocks on I/O. The record is formatted on the caller's thread. write_record
    // returns the record's ticket for when_written().
    uint64_t write_record(const AuditRecord& record);
    // Like write_record, for a record its caller will wait for (when_written): the batch that
    // holds it is written at once, not after lingering for more, so it is usually on disk before
    // the wait begins (the proxy's "forwarded" record, written while the upstream answers).
    uint64_t write_awaited_record(const AuditRecord& record);
    // A line (for `record`, which the observer sees now) that the writer thread makes when it
    // writes it, with an attachment stored before it (audit_attachment.h). `bytes`: what it
    // holds in memory until then. Returns 0 and queues nothing when the deferred lines waiting
    // already reach the store's bounds (the caller audits the record saying so), or when no
    // store is set.
    [[nodiscard]] uint64_t write_deferred(const AuditRecord& record,
                                          std::unique_ptr<AuditDeferredLine> line,
                                          std::size_t bytes);
    // Sets (null: removes) the store of attachments. Removing it waits for a batch being stored;
    // lines still queued with an attachment are then written by line_without_recording().
    void set_attachment_store(AuditAttachmentStore* store, std::size_t max_queued_deferred,
                              std::size_t max_queued_deferred_bytes);
    void write(const nlohmann::json& record);
    bool healthy() const;
    AuditStats stats() const;
    void reopen();  // for log rotation (SIGHUP)
    void flush();   // waits until everything queued so far is on disk or failed

    // `done` runs (on the writer thread, or here when it already is) once the record with this
    // ticket is in the file, or was given up, or the file is failing; while anyone waits the
    // writer does not linger.
    // The proxy holds an answer until its "forwarded" record is written, so a crash never
    // loses the record of a request a client saw answered.
    bool written(uint64_t ticket) const;
    void when_written(uint64_t ticket, std::function<void()> done);

private:
    struct QueuedLine {
        std::string line;
        std::string attachment;                       // "" when the line has none
        std::unique_ptr<AuditDeferredLine> deferred;  // makes line and attachment
    };
    // Copied into a recycled string when there is one.
    uint64_t enqueue(std::string_view line, bool awaited = false);
    uint64_t format_and_enqueue(const AuditRecord& record, bool awaited);
    // 0: past the bounds for deferred lines.
    uint64_t enqueue_deferred(std::unique_ptr<AuditDeferredLine> line, std::size_t bytes);
    // Under mutex_: queues `queued`, counted as lost when the queue is full; whether to wake the
    // writer. An awaited line ends its lingering.
    bool push_locked(QueuedLine&& queued, bool awaited);
    void release_written_waiters(std::unique_lock<std::mutex>& lock);
    void recycle(std::deque<QueuedLine>& written);  // under mutex_
    void run(std::stop_token stop);
    // Writer thread only, from here to the members it owns.
    bool write_batch(const std::string& gap_line, std::deque<QueuedLine>& batch,
                     std::string& error);
    void make_deferred_lines(std::deque<QueuedLine>& batch);
    void store_attachments(std::deque<QueuedLine>& batch);
    void open_file();
    void recover_chain();
    void append_sealed(std::string_view line);  // to out_, advancing the chain
    void append_checkpoint(CheckpointReason reason);
    bool write_out(std::string& error);  // out_ to the file; on failure the chain is rolled back
    bool write_checkpoint(CheckpointReason reason);
    void rotate_if_due();
    void remove_old_files();
    bool checkpoint_due(std::chrono::steady_clock::time_point now) const;

    const AuditWriterOptions options_;
    const std::string path_;
    int fd_ = -1;
    bool regular_file_ = false;
    uint64_t file_bytes_ = 0;
    std::chrono::system_clock::time_point file_started_;
    ChainHead head_;
    Sha256 sha_;
    uint64_t since_checkpoint_ = 0;
    std::chrono::steady_clock::time_point last_checkpoint_;
    std::string out_;          // the sealed bytes of one write
    std::string scratch_;      // one line being sealed
    std::string attachments_;  // one batch's attachments, concatenated
    // Chain state at the start of out_, restored when its write fails.
    ChainHead head_before_out_;
    uint64_t since_checkpoint_before_out_ = 0;
    uint64_t checkpoints_in_out_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    std::condition_variable flushed_;
    std::deque<QueuedLine> queue_;
    std::vector<QueuedLine> spare_lines_;  // written lines' strings, emptied, for enqueue
    std::size_t queued_deferred_ = 0;
    std::size_t queued_deferred_bytes_ = 0;
    std::size_t max_queued_deferred_ = 0;
    std::size_t max_queued_deferred_bytes_ = 0;
    // Held while the store is used (writer thread) or changed; never taken under mutex_.
    std::mutex attachment_store_mutex_;
    AuditAttachmentStore* attachment_store_ = nullptr;
    uint64_t enqueued_ = 0;
    uint64_t settled_ = 0;  // written or given up
    uint64_t lost_since_failure_ = 0;
    bool reopen_requested_ = false;
    // What the writer thread is waiting for, so write() wakes it only when that changes: the
    // first record while it is idle, or a full batch or an awaited record while it lingers.
    enum class WriterState { busy, idle, lingering };
    WriterState writer_state_ = WriterState::busy;
    int flush_waiters_ = 0;        // while a flush() waits, batches are written without lingering
    bool awaited_queued_ = false;  // the queue holds an awaited record: write without lingering
    std::vector<std::pair<uint64_t, std::function<void()>>> written_waiters_;
    AuditStats stats_;
    std::jthread thread_;
};

}  // namespace sluice
