#include "agent/audit/audit_writer.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
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

namespace {
AuditWriterOptions options_for_path(std::string path) {
    AuditWriterOptions options;
    options.path = std::move(path);
    return options;
}

// Proxy threads wake this thread for every request. As a batch thread it runs when they block
// instead of preempting them on wakeup (SCHED_BATCH: no wakeup preemption, the same CPU share),
// so a request on the same CPU is not held up while its own audit record is written. Only from
// SCHED_OTHER: under a real-time policy the proxy threads would starve a batch thread.
void stop_preempting_on_wakeup() {
    if (::sched_getscheduler(0) != SCHED_OTHER) return;
    const sched_param param{};
    if (const int error = ::pthread_setschedparam(::pthread_self(), SCHED_BATCH, &param))
        spdlog::debug("audit: writer thread stays SCHED_OTHER: {}", std::strerror(error));
}
}  // namespace

AuditWriter::AuditWriter(std::string path) : AuditWriter(options_for_path(std::move(path))) {}

AuditWriter::AuditWriter(AuditWriterOptions options)
    : options_(std::move(options)), path_(options_.path) {
    open_file();
    recover_chain();
    last_checkpoint_ = std::chrono::steady_clock::now();
    thread_ = std::jthread([this](std::stop_token stop) {
        ::pthread_setname_np(::pthread_self(), "sluice-audit");
        stop_preempting_on_wakeup();
        run(stop);
    });
}

AuditWriter::~AuditWriter() {
    thread_.request_stop();
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
}

std::vector<std::string> rotated_audit_files(const std::string& path) {
    const std::filesystem::path file(path);
    const std::string prefix = file.filename().string() + ".";
    std::vector<std::pair<uint64_t, std::string>> found;
    std::error_code ec;
    const auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with(prefix) || name.size() == prefix.size()) continue;
        uint64_t index = 0;
        const char* first = name.data() + prefix.size();
        const auto [end, err] = std::from_chars(first, name.data() + name.size(), index);
        if (err != std::errc{} || end != name.data() + name.size()) continue;
        found.emplace_back(index, entry.path().string());
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> paths;
    for (auto& [index, name] : found) paths.push_back(std::move(name));
    return paths;
}

void AuditWriter::open_file() {
    std::filesystem::path file(path_);
    std::error_code ec;
    if (file.has_parent_path() && !std::filesystem::exists(file.parent_path(), ec)) {
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec)
            throw std::runtime_error("audit: cannot create directory " +
                                     file.parent_path().string() + ": " + ec.message());
        ::chmod(file.parent_path().c_str(), 0700);
    }
    int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("audit: cannot open " + path_ + ": " + std::strerror(errno));
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    struct stat st {};
    regular_file_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    file_bytes_ = regular_file_ ? static_cast<uint64_t>(st.st_size) : 0;
}

namespace {

// The last `max_bytes` of a regular file ("" when it is missing, empty or not a regular file).
std::string read_tail(const std::string& path, std::size_t max_bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    std::string text;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        const auto size = static_cast<uint64_t>(st.st_size);
        const uint64_t from = size > max_bytes ? size - max_bytes : 0;
        text.resize(size - from);
        const ssize_t n = ::pread(fd, text.data(), text.size(), static_cast<off_t>(from));
        text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    }
    ::close(fd);
    return text;
}

}  // namespace

void AuditWriter::recover_chain() {
    if (!regular_file_) return;
    const std::vector<std::string> rotated = rotated_audit_files(path_);
    file_started_ = options_.clock();
    if (!rotated.empty()) {
        // Age for rotate_interval counts from the last rotation, across restarts.
        std::error_code ec;
        const auto written = std::filesystem::last_write_time(rotated.back(), ec);
        if (!ec)
            file_started_ = std::chrono::time_point_cast<std::chrono::system_clock::duration>(
                std::chrono::file_clock::to_sys(written));
    }
    // Where the chain stands: the end of this file, or of the last rotated one when this file
    // is new (a rotation, then a stop before the next record).
    std::string tail = read_tail(path_, kAuditTailReadBytes);
    const bool tail_is_current = !tail.empty();
    if (!tail_is_current && !rotated.empty()) tail = read_tail(rotated.back(), kAuditTailReadBytes);
    if (tail.empty()) return;  // a new chain
    const ChainTail found = read_chain_tail(tail, sha_);
    head_ = found.head;
    const bool cut_line = tail_is_current && found.partial_bytes > 0;
    if (found.clean_stop && !cut_line) return;
    if (!options_.signer && !cut_line) return;  // no checkpoints: a clean stop cannot be told apart
    if (!found.chained && !cut_line)
        return;  // a file from before the chain: anchored on its last line
    out_.clear();
    if (cut_line) {
        // End the cut line so that it stands alone; the record below names its hash.
        out_ = "\n";
    }
    nlohmann::json recovery = {{"kind", "audit_recovery"},
                               {"reason", found.chained ? "unclean_stop" : "unchained_before"},
                               {"ts", format_utc(options_.clock())},
                               {"partial_line_bytes", cut_line ? found.partial_bytes : 0}};
    if (cut_line) recovery["partial_sha256"] = found.partial_sha256;
    // Members in name order: "kind" comes first, as kRecoveryPrefix expects.
    const std::string line = recovery.dump() + "\n";
    head_before_out_ = head_;
    since_checkpoint_before_out_ = since_checkpoint_;
    append_sealed(line);
    if (options_.signer) append_checkpoint(CheckpointReason::recovery);
    std::string error;
    if (!write_out(error))
        throw std::runtime_error("audit: cannot write to " + path_ + ": " + error);
    stats_.recovered_unclean_stop = found.chained;
    spdlog::warn(
        "audit: {} was not sealed when sluiced last stopped (killed or crashed){}; the chain "
        "continues "
        "from seq {} with an audit_recovery record",
        path_, cut_line ? ", its last line was cut" : "", head_.next_seq - 1);
}

void AuditWriter::append_sealed(std::string_view line) {
    scratch_.assign(line);
    seal_line(scratch_, head_, sha_);
    out_ += scratch_;
    if (scratch_.starts_with(kCheckpointPrefix)) return;
    ++since_checkpoint_;
    if (options_.signer && since_checkpoint_ >= options_.checkpoint_records)
        append_checkpoint(CheckpointReason::records);
}

void AuditWriter::append_checkpoint(CheckpointReason reason) {
    append_sealed(checkpoint_line(head_, reason, since_checkpoint_, format_utc(options_.clock()),
                                  *options_.signer));
    since_checkpoint_ = 0;
    ++checkpoints_in_out_;
}

bool AuditWriter::write_out(std::string& error) {
    std::string_view rest(out_);
    while (!rest.empty()) {
        const ssize_t n = ::write(fd_, rest.data(), rest.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            error = std::strerror(errno);
            // Take back what part of it reached the file, so a retry does not leave a cut line,
            // and the chain with it: the same records are sealed again when they are retried.
            if (regular_file_ && rest.size() != out_.size() &&
                ::ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0)
                spdlog::error("audit: cannot cut a failed write from {}: {}", path_,
                              std::strerror(errno));
            head_ = head_before_out_;
            since_checkpoint_ = since_checkpoint_before_out_;
            checkpoints_in_out_ = 0;
            out_.clear();
            return false;
        }
        // A short write (a full disk can cut one in the middle): resume where it stopped.
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    file_bytes_ += out_.size();
    if (options_.on_written) options_.on_written(out_);
    if (checkpoints_in_out_ > 0) last_checkpoint_ = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        stats_.checkpoints += checkpoints_in_out_;
    }
    checkpoints_in_out_ = 0;
    out_.clear();
    return true;
}

bool AuditWriter::write_checkpoint(CheckpointReason reason) {
    if (!options_.signer) return true;
    head_before_out_ = head_;
    since_checkpoint_before_out_ = since_checkpoint_;
    out_.clear();
    append_checkpoint(reason);
    std::string error;
    if (write_out(error)) return true;
    spdlog::error("audit: cannot write a checkpoint to {}: {}", path_, error);
    return false;
}

bool AuditWriter::checkpoint_due(std::chrono::steady_clock::time_point now) const {
    return options_.signer && since_checkpoint_ > 0 &&
           now - last_checkpoint_ >= options_.checkpoint_interval;
}

void AuditWriter::rotate_if_due() {
    if (!regular_file_ || file_bytes_ == 0) return;
    const bool by_size = options_.rotate_bytes > 0 && file_bytes_ >= options_.rotate_bytes;
    const bool by_age = options_.rotate_interval.count() > 0 &&
                        options_.clock() - file_started_ >= options_.rotate_interval;
    if (!by_size && !by_age) return;
    // The old file ends sealed; the new one's first line names its last (the chain goes on).
    if (!write_checkpoint(CheckpointReason::rotate)) return;
    const std::vector<std::string> rotated = rotated_audit_files(path_);
    uint64_t next_index = 1;
    if (!rotated.empty()) {
        const std::string& last = rotated.back();
        std::from_chars(last.data() + last.rfind('.') + 1, last.data() + last.size(), next_index);
        ++next_index;
    }
    const std::string target = path_ + "." + std::to_string(next_index);
    if (::rename(path_.c_str(), target.c_str()) != 0) {
        spdlog::error("audit: cannot rotate {} to {}: {}", path_, target, std::strerror(errno));
        return;
    }
    try {
        open_file();
    } catch (const std::exception& e) {
        spdlog::error(
            "{}", e.what());  // the next write fails on the renamed file's fd: failure_mode applies
    }
    file_started_ = options_.clock();
    {
        std::lock_guard lock(mutex_);
        ++stats_.rotations;
    }
    remove_old_files();
}

void AuditWriter::remove_old_files() {
    if (options_.keep_files == 0) return;
    const std::vector<std::string> rotated = rotated_audit_files(path_);
    for (std::size_t i = 0; i + options_.keep_files < rotated.size(); ++i) {
        std::error_code ec;
        std::filesystem::remove(rotated[i], ec);
        if (ec)
            spdlog::error("audit: cannot remove {} (retention): {}", rotated[i], ec.message());
        else
            spdlog::info("audit: removed {} (keep_files: {})", rotated[i], options_.keep_files);
    }
}

uint64_t AuditWriter::write_record(const AuditRecord& record) {
    return format_and_enqueue(record, false);
}

uint64_t AuditWriter::write_awaited_record(const AuditRecord& record) {
    return format_and_enqueue(record, true);
}

uint64_t AuditWriter::format_and_enqueue(const AuditRecord& record, bool awaited) {
    // Formatted into this thread's scratch line, then copied into a string the writer has
    // written before and handed back: no allocation per record on the proxy thread and no
    // free of it on the writer's (docs/benchmarks.md, keep-alive CPU).
    thread_local std::string line;
    line.clear();
    record.append_line(line);
    if (options_.observer) options_.observer(record);
    return enqueue(line, awaited);
}

uint64_t AuditWriter::write_deferred(const AuditRecord& record,
                                     std::unique_ptr<AuditDeferredLine> line, std::size_t bytes) {
    const uint64_t ticket = enqueue_deferred(std::move(line), bytes);
    if (ticket != 0 && options_.observer) options_.observer(record);
    return ticket;
}

void AuditWriter::set_attachment_store(AuditAttachmentStore* store, std::size_t max_queued_deferred,
                                       std::size_t max_queued_deferred_bytes) {
    std::lock_guard store_lock(attachment_store_mutex_);
    attachment_store_ = store;
    std::lock_guard lock(mutex_);
    max_queued_deferred_ = store != nullptr ? max_queued_deferred : 0;
    max_queued_deferred_bytes_ = store != nullptr ? max_queued_deferred_bytes : 0;
}

void AuditWriter::write(const nlohmann::json& record) {
    std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    enqueue(line);
}

uint64_t AuditWriter::enqueue(std::string_view line, bool awaited) {
    bool wake = false;
    uint64_t ticket = 0;
    {
        std::lock_guard lock(mutex_);
        ticket = ++enqueued_;
        QueuedLine queued;
        if (!spare_lines_.empty()) {
            queued = std::move(spare_lines_.back());
            spare_lines_.pop_back();
        }
        queued.line.assign(line);
        wake = push_locked(std::move(queued), awaited);
    }
    if (wake) wake_.notify_one();
    return ticket;
}

uint64_t AuditWriter::enqueue_deferred(std::unique_ptr<AuditDeferredLine> line, std::size_t bytes) {
    bool wake = false;
    uint64_t ticket = 0;
    {
        std::lock_guard lock(mutex_);
        if (queued_deferred_ >= max_queued_deferred_ ||
            queued_deferred_bytes_ + bytes > max_queued_deferred_bytes_)
            return 0;
        ticket = ++enqueued_;
        ++queued_deferred_;
        queued_deferred_bytes_ += bytes;
        QueuedLine queued;
        if (!spare_lines_.empty()) {
            queued = std::move(spare_lines_.back());
            spare_lines_.pop_back();
        }
        queued.deferred = std::move(line);
        wake = push_locked(std::move(queued), false);
    }
    if (wake) wake_.notify_one();
    return ticket;
}

bool AuditWriter::push_locked(QueuedLine&& queued, bool awaited) {
    if (queue_.size() >= limits::kAuditQueueMaxRecords) {
        ++stats_.lost;
        ++lost_since_failure_;
        ++settled_;
        queued.line.clear();
        if (spare_lines_.size() < kAuditSpareLines && !queued.deferred)
            spare_lines_.push_back(std::move(queued));
        return false;
    }
    queue_.push_back(std::move(queued));
    const bool ends_lingering = awaited && !awaited_queued_;
    awaited_queued_ = awaited_queued_ || awaited;
    return (writer_state_ == WriterState::idle && queue_.size() == 1) ||
           (writer_state_ == WriterState::lingering &&
            (queue_.size() == kAuditBatchMaxRecords || ends_lingering));
}

// While the file fails nothing is waited for: failure_mode decides what is served.
bool AuditWriter::written(uint64_t ticket) const {
    std::lock_guard lock(mutex_);
    return settled_ >= ticket || !stats_.healthy;
}

void AuditWriter::when_written(uint64_t ticket, std::function<void()> done) {
    {
        std::lock_guard lock(mutex_);
        if (settled_ < ticket && stats_.healthy) {
            written_waiters_.emplace_back(ticket, std::move(done));
            if (writer_state_ == WriterState::lingering) wake_.notify_one();
            return;
        }
    }
    done();
}

// Under mutex_ (held again on return): runs, unlocked, what waits for records now settled.
void AuditWriter::release_written_waiters(std::unique_lock<std::mutex>& lock) {
    if (written_waiters_.empty()) return;
    std::vector<std::function<void()>> ready;
    std::erase_if(written_waiters_, [&](auto& waiter) {
        if (waiter.first > settled_ && stats_.healthy) return false;
        ready.push_back(std::move(waiter.second));
        return true;
    });
    if (ready.empty()) return;
    lock.unlock();
    for (auto& done : ready) done();
    lock.lock();
}

void AuditWriter::recycle(std::deque<QueuedLine>& written) {
    for (auto& queued : written) {
        if (spare_lines_.size() >= kAuditSpareLines) break;
        if (queued.line.capacity() > kAuditSpareLineMaxBytes) continue;  // an unusually long line
        queued.line.clear();
        if (queued.attachment.capacity() > kAuditSpareAttachmentMaxBytes)
            queued.attachment = std::string();
        queued.attachment.clear();
        spare_lines_.push_back(std::move(queued));
    }
    written.clear();
}

bool AuditWriter::healthy() const {
    {
        std::lock_guard lock(mutex_);
        if (!stats_.healthy) return false;
    }
    return !options_.also_healthy || options_.also_healthy();
}

AuditStats AuditWriter::stats() const {
    std::lock_guard lock(mutex_);
    AuditStats stats = stats_;
    stats.queued = enqueued_ - settled_;
    return stats;
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
    flushed_.wait_for(lock, std::chrono::seconds(5),
                      [&] { return settled_ >= target || !stats_.healthy; });
    --flush_waiters_;
}

bool AuditWriter::write_batch(const std::string& gap_line, std::deque<QueuedLine>& batch,
                              std::string& error) {
    make_deferred_lines(batch);
    store_attachments(batch);
    // Sealed into one buffer and written with one write: the copy costs less than the hash.
    rotate_if_due();
    head_before_out_ = head_;
    since_checkpoint_before_out_ = since_checkpoint_;
    out_.clear();
    if (!gap_line.empty()) append_sealed(gap_line);
    for (const auto& queued : batch) append_sealed(queued.line);
    return write_out(error);
}

void AuditWriter::make_deferred_lines(std::deque<QueuedLine>& batch) {
    for (auto& queued : batch) {
        if (!queued.deferred) continue;
        queued.line.clear();
        queued.attachment.clear();
        queued.deferred->make(queued.line, queued.attachment);
        queued.deferred.reset();
    }
}

// Before the lines that name them, so the audit never names what is not on disk. Each
// attachment is stored once: a batch whose lines fail to be written is retried without them.
void AuditWriter::store_attachments(std::deque<QueuedLine>& batch) {
    attachments_.clear();
    std::size_t count = 0;
    for (const auto& queued : batch) {
        if (queued.attachment.empty()) continue;
        attachments_ += queued.attachment;
        ++count;
    }
    if (count == 0) return;
    std::string error;
    {
        std::lock_guard lock(attachment_store_mutex_);
        error = attachment_store_ != nullptr ? attachment_store_->store(attachments_, count)
                                             : "not stored: sluiced was stopping";
    }
    for (auto& queued : batch) {
        if (queued.attachment.empty()) continue;
        queued.attachment.clear();
        if (!error.empty()) queued.line = line_without_recording(queued.line, error);
    }
}

void AuditWriter::run(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (true) {
        writer_state_ = WriterState::idle;
        const auto has_work = [&] { return !queue_.empty() || reopen_requested_; };
        if (options_.signer && since_checkpoint_ > 0)
            wake_.wait_until(lock, stop, last_checkpoint_ + options_.checkpoint_interval, has_work);
        else
            wake_.wait(lock, stop, has_work);
        if (!queue_.empty() && queue_.size() < kAuditBatchMaxRecords && !stop.stop_requested() &&
            stats_.healthy && flush_waiters_ == 0 && written_waiters_.empty() && !awaited_queued_) {
            // Group commit: let the burst that woke us finish arriving. A flush(), a full batch
            // or shutdown ends the wait early. (A failing file is retried on its own timer.)
            writer_state_ = WriterState::lingering;
            wake_.wait_for(lock, stop, options_.batch_linger, [&] {
                return queue_.size() >= kAuditBatchMaxRecords || flush_waiters_ > 0 ||
                       reopen_requested_ || !written_waiters_.empty() || awaited_queued_;
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
            const bool stopping = stop.stop_requested();
            if (stopping || checkpoint_due(std::chrono::steady_clock::now())) {
                lock.unlock();
                write_checkpoint(stopping ? CheckpointReason::shutdown
                                          : CheckpointReason::interval);
                lock.lock();
            }
            if (stopping) return;
            continue;
        }
        std::deque<QueuedLine> batch;
        batch.swap(queue_);
        awaited_queued_ = false;
        queued_deferred_ = 0;
        queued_deferred_bytes_ = 0;
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
        if (ok && checkpoint_due(std::chrono::steady_clock::now()))
            write_checkpoint(CheckpointReason::interval);

        lock.lock();
        if (ok) {
            stats_.written += batch.size();
            ++stats_.batches;
            settled_ += batch.size();
            recycle(batch);
            if (was_failing) {
                spdlog::info("audit: writing to {} again after {} lost records", path_,
                             lost_before);
                lost_since_failure_ -= lost_before;
            }
            stats_.healthy = true;
            flushed_.notify_all();
            release_written_waiters(lock);
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
        release_written_waiters(lock);
        if (stop.stop_requested()) {
            settled_ += queue_.size();
            flushed_.notify_all();
            release_written_waiters(lock);
            return;
        }
        wake_.wait_for(lock, stop, kRetryInterval, [] { return false; });
        // flush() callers waiting on records that keep failing give up on their own deadline.
    }
}

}  // namespace sluice
