// Appends audit records (one JSON object per line) from a background thread, so the data path
// never blocks on disk. A failed write is itself recorded: the writer keeps the records it could
// not write (bounded), retries, and on recovery writes an "audit_gap" record naming what was lost.
// Records are written in batches (group commit): the first record of a batch wakes the writer,
// which lingers up to kAuditBatchLinger for more (or until kAuditBatchMaxRecords are queued) and
// writes them with one writev. So a busy proxy pays one wakeup and one syscall per batch, not
// per request, and a record reaches the file at most a few milliseconds after the request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_record.h"

namespace sluice {

inline constexpr std::chrono::milliseconds kAuditBatchLinger{2};
inline constexpr std::size_t kAuditBatchMaxRecords = 512;
// Written lines kept for reuse (their strings, emptied), and the longest one worth keeping.
inline constexpr std::size_t kAuditSpareLines = 1024;
inline constexpr std::size_t kAuditSpareLineMaxBytes = 4096;

struct AuditStats {
    uint64_t written = 0;
    uint64_t batches = 0;      // successful writes of one or more records
    uint64_t lost = 0;         // dropped because the queue was full while the file failed
    uint64_t write_errors = 0;
    bool healthy = true;       // false from a failed write until the next successful one
    std::string last_error;
};

class AuditWriter {
public:
    // Opens (creating, mode 0600) the file and its directory (0700). Throws std::runtime_error
    // with one line naming the path if it cannot.
    explicit AuditWriter(std::string path);
    ~AuditWriter();  // drains what is queued, then stops
    AuditWriter(const AuditWriter&) = delete;
    AuditWriter& operator=(const AuditWriter&) = delete;

    // Neither blocks on I/O. The record is formatted on the caller's thread.
    void write_record(const AuditRecord& record);
    void write(const nlohmann::json& record);
    bool healthy() const;
    AuditStats stats() const;
    void reopen();  // for log rotation (SIGHUP)
    void flush();   // waits until everything queued so far is on disk or failed

private:
    void enqueue(std::string_view line);  // copied into a recycled string when there is one
    void recycle(std::deque<std::string>& written);  // under mutex_
    void run(std::stop_token stop);
    bool write_batch(const std::string& gap_line, const std::deque<std::string>& batch, std::string& error);
    void open_file();

    const std::string path_;
    int fd_ = -1;
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    std::condition_variable flushed_;
    std::deque<std::string> queue_;
    std::vector<std::string> spare_lines_;  // written lines' strings, emptied, for enqueue
    uint64_t enqueued_ = 0;
    uint64_t settled_ = 0;  // written or given up
    uint64_t lost_since_failure_ = 0;
    bool reopen_requested_ = false;
    // What the writer thread is waiting for, so write() wakes it only when that changes: the
    // first record while it is idle, or a full batch while it lingers.
    enum class WriterState { busy, idle, lingering };
    WriterState writer_state_ = WriterState::busy;
    int flush_waiters_ = 0;  // while a flush() waits, batches are written without lingering
    AuditStats stats_;
    std::jthread thread_;
};

}  // namespace sluice
