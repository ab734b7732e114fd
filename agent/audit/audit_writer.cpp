#include "agent/audit/audit_writer.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/common/limits.h"
#include "agent/common/time_format.h"

namespace sluice {

namespace {
constexpr auto kRetryInterval = std::chrono::milliseconds(500);
}

AuditWriter::AuditWriter(std::string path) : path_(std::move(path)) {
    open_file();
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

AuditWriter::~AuditWriter() {
    thread_.request_stop();
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
}

void AuditWriter::open_file() {
    std::filesystem::path file(path_);
    std::error_code ec;
    if (file.has_parent_path() && !std::filesystem::exists(file.parent_path(), ec)) {
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec) throw std::runtime_error("audit: cannot create directory " +
                                         file.parent_path().string() + ": " + ec.message());
        ::chmod(file.parent_path().c_str(), 0700);
    }
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("audit: cannot open " + path_ + ": " + std::strerror(errno));
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

void AuditWriter::write_record(const AuditRecord& record) {
    // Formatted into this thread's scratch line, then copied into a string the writer has
    // written before and handed back: no allocation per record on the proxy thread and no
    // free of it on the writer's (docs/benchmarks.md, keep-alive CPU).
    thread_local std::string line;
    line.clear();
    record.append_line(line);
    enqueue(line);
}

void AuditWriter::write(const nlohmann::json& record) {
    std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    enqueue(line);
}

void AuditWriter::enqueue(std::string_view line) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        ++enqueued_;
        if (queue_.size() >= limits::kAuditQueueMaxRecords) {
            ++stats_.lost;
            ++lost_since_failure_;
            ++settled_;
            return;
        }
        if (spare_lines_.empty()) {
            queue_.emplace_back(line);
        } else {
            queue_.push_back(std::move(spare_lines_.back()));
            spare_lines_.pop_back();
            queue_.back().assign(line);
        }
        wake = (writer_state_ == WriterState::idle && queue_.size() == 1) ||
               (writer_state_ == WriterState::lingering && queue_.size() == kAuditBatchMaxRecords);
    }
    if (wake) wake_.notify_one();
}

void AuditWriter::recycle(std::deque<std::string>& written) {
    for (auto& line : written) {
        if (spare_lines_.size() >= kAuditSpareLines) break;
        if (line.capacity() > kAuditSpareLineMaxBytes) continue;  // an unusually long line
        line.clear();
        spare_lines_.push_back(std::move(line));
    }
    written.clear();
}

bool AuditWriter::healthy() const {
    std::lock_guard lock(mutex_);
    return stats_.healthy;
}

AuditStats AuditWriter::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

void AuditWriter::reopen() {
    {
        std::lock_guard lock(mutex_);
        reopen_requested_ = true;
    }
    wake_.notify_one();
}

void AuditWriter::flush() {
    std::unique_lock lock(mutex_);
    const uint64_t target = enqueued_;
    ++flush_waiters_;
    wake_.notify_all();
    // A failing file keeps its records queued for retry; flush() returns once that is known.
    flushed_.wait_for(lock, std::chrono::seconds(5), [&] { return settled_ >= target || !stats_.healthy; });
    --flush_waiters_;
}

bool AuditWriter::write_batch(const std::string& gap_line, const std::deque<std::string>& batch,
                              std::string& error) {
    // One writev for the batch (IOV_MAX lines at a time), no copy into one big string. O_APPEND
    // keeps each writev's bytes together even if another process appends to the file.
    std::vector<iovec> iov;
    iov.reserve(std::min<size_t>(batch.size() + 1, IOV_MAX));
    auto line = batch.begin();
    bool gap_pending = !gap_line.empty();
    while (gap_pending || line != batch.end()) {
        iov.clear();
        if (gap_pending) {
            iov.push_back({const_cast<char*>(gap_line.data()), gap_line.size()});
            gap_pending = false;
        }
        for (; line != batch.end() && iov.size() < IOV_MAX; ++line)
            iov.push_back({const_cast<char*>(line->data()), line->size()});
        size_t first = 0;
        while (first < iov.size()) {
            const ssize_t n = ::writev(fd_, iov.data() + first, static_cast<int>(iov.size() - first));
            if (n < 0) {
                if (errno == EINTR) continue;
                error = std::strerror(errno);
                return false;
            }
            // A short write (a full disk can cut one in the middle): resume where it stopped.
            size_t done = static_cast<size_t>(n);
            while (first < iov.size() && done >= iov[first].iov_len) done -= iov[first++].iov_len;
            if (first < iov.size()) {
                iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
                iov[first].iov_len -= done;
            }
        }
    }
    return true;
}

void AuditWriter::run(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (true) {
        writer_state_ = WriterState::idle;
        wake_.wait(lock, stop, [&] { return !queue_.empty() || reopen_requested_; });
        if (!queue_.empty() && queue_.size() < kAuditBatchMaxRecords && !stop.stop_requested() &&
            stats_.healthy && flush_waiters_ == 0) {
            // Group commit: let the burst that woke us finish arriving. A flush(), a full batch
            // or shutdown ends the wait early. (A failing file is retried on its own timer.)
            writer_state_ = WriterState::lingering;
            wake_.wait_for(lock, stop, kAuditBatchLinger, [&] {
                return queue_.size() >= kAuditBatchMaxRecords || flush_waiters_ > 0 || reopen_requested_;
            });
        }
        writer_state_ = WriterState::busy;
        if (reopen_requested_) {
            reopen_requested_ = false;
            lock.unlock();
            try {
                open_file();
            } catch (const std::exception& e) {
                spdlog::error("{}", e.what());
            }
            lock.lock();
        }
        if (queue_.empty()) {
            if (stop.stop_requested()) return;
            continue;
        }
        std::deque<std::string> batch;
        batch.swap(queue_);
        const bool was_failing = !stats_.healthy;
        const uint64_t lost_before = lost_since_failure_;
        lock.unlock();

        std::string gap_line;
        if (was_failing) {
            // Recovery: first say what the failure cost, so the gap is on the record.
            nlohmann::json gap = {{"ts", format_utc_now()},
                                  {"event", "audit_gap"},
                                  {"lost", lost_before},
                                  {"error", stats().last_error}};
            gap_line = gap.dump() + "\n";
        }
        std::string error;
        const bool ok = write_batch(gap_line, batch, error);

        lock.lock();
        if (ok) {
            stats_.written += batch.size();
            ++stats_.batches;
            settled_ += batch.size();
            recycle(batch);
            if (was_failing) {
                spdlog::info("audit: writing to {} again after {} lost records", path_, lost_before);
                lost_since_failure_ -= lost_before;
            }
            stats_.healthy = true;
            flushed_.notify_all();
            continue;
        }
        ++stats_.write_errors;
        if (stats_.healthy) spdlog::error("audit: write to {} failed: {}", path_, error);
        stats_.healthy = false;
        stats_.last_error = error;
        // Keep what failed at the front (bounded), retry after a pause.
        while (!batch.empty() && queue_.size() < limits::kAuditQueueMaxRecords) {
            queue_.push_front(std::move(batch.back()));
            batch.pop_back();
        }
        stats_.lost += batch.size();
        lost_since_failure_ += batch.size();
        settled_ += batch.size();
        flushed_.notify_all();
        if (stop.stop_requested()) {
            settled_ += queue_.size();
            flushed_.notify_all();
            return;
        }
        wake_.wait_for(lock, stop, kRetryInterval, [] { return false; });
        // flush() callers waiting on records that keep failing give up on their own deadline.
    }
}

}  // namespace sluice
