// Appends audit records (one JSON object per line) from a background thread, so the data path
// never blocks on disk. A failed write is itself recorded: the writer keeps the records it could
// not write (bounded), retries, and on recovery writes an "audit_gap" record naming what was lost.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace sluice {

struct AuditStats {
    uint64_t written = 0;
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

    void write(const nlohmann::json& record);  // never blocks on I/O
    bool healthy() const;
    AuditStats stats() const;
    void reopen();  // for log rotation (SIGHUP)
    void flush();   // waits until everything queued so far is on disk or failed

private:
    void run(std::stop_token stop);
    bool write_lines(const std::string& lines, std::string& error);
    void open_file();

    const std::string path_;
    int fd_ = -1;
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    std::condition_variable flushed_;
    std::deque<std::string> queue_;
    uint64_t enqueued_ = 0;
    uint64_t settled_ = 0;  // written or given up
    uint64_t lost_since_failure_ = 0;
    bool reopen_requested_ = false;
    AuditStats stats_;
    std::jthread thread_;
};

}  // namespace sluice
