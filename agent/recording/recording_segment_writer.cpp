#include "agent/recording/recording_segment_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "agent/common/sha256_hex.h"

namespace sluice {

namespace {

constexpr uint64_t kMinSegmentBytes = 64 * 1024;

void write_all(int fd, std::string_view bytes, const std::string& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            throw std::runtime_error("cannot write " + path + ": " +
                                     std::strerror(n == 0 ? EIO : errno));
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

SegmentLimits segment_limits_for(const RecordingRetention& retention) {
    SegmentLimits limits;
    if (retention.max_total_bytes != 0)
        limits.max_bytes =
            std::clamp(retention.max_total_bytes / 8, kMinSegmentBytes, limits.max_bytes);
    if (retention.max_age.count() != 0)
        limits.max_age = std::clamp(retention.max_age / 8, std::chrono::seconds(1), limits.max_age);
    return limits;
}

RecordingSegmentWriter::RecordingSegmentWriter(std::string dir, std::string key,
                                               SegmentLimits limits)
    : dir_(std::move(dir)), limits_(limits), sealer_(std::move(key)) {}

RecordingSegmentWriter::~RecordingSegmentWriter() { close_segment(); }

std::string RecordingSegmentWriter::add(std::string_view json, uint64_t* entry_bytes) {
    const std::string sha = sha256_hex(json);
    const std::size_t before = batch_.size();
    sealer_.append_entry(batch_, sha, json);
    if (entry_bytes != nullptr) *entry_bytes = batch_.size() - before;
    return sha;
}

void RecordingSegmentWriter::commit() {
    // Cleared whether or not the write succeeds: a failed batch is in no segment.
    std::string batch;
    batch.swap(batch_);
    write(batch);
    batch.clear();
    batch_.swap(batch);  // its capacity, for the next batch
}

void RecordingSegmentWriter::write(std::string_view entries) {
    if (entries.empty()) return;
    const bool full = size_ >= limits_.max_bytes;
    const bool old = std::chrono::steady_clock::now() - opened_ >= limits_.max_age;
    if (fd_ >= 0 && (full || old)) close_segment();
    try {
        if (fd_ < 0) open_segment();
        // Not synced: a killed sluiced leaves at most a torn last entry, which readers skip and
        // no audit line names (the line is written after this returns); the audit itself is
        // not synced per line either.
        write_all(fd_, entries, path_);
    } catch (...) {
        if (fd_ >= 0 && ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
            // The torn bytes stay at the segment's end, where readers stop.
        }
        close_segment();
        throw;
    }
    size_ += entries.size();
}

void RecordingSegmentWriter::open_segment() {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    // Another writer (the previous run, or a test's) may have opened a segment in the same
    // millisecond: the next number then.
    for (int attempt = 0;; ++attempt) {
        char name[64];
        std::snprintf(name, sizeof name, "/%016lld-%06u%s", static_cast<long long>(now_ms),
                      ++opened_count_ % 1000000, std::string(kSegmentSuffix).c_str());
        const std::string path = dir_ + name;
        const int fd =
            ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST && attempt < 100) continue;
        if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
        fd_ = fd;
        path_ = path;
        size_ = 0;
        opened_ = std::chrono::steady_clock::now();
        return;
    }
}

void RecordingSegmentWriter::close_segment() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    path_.clear();
    size_ = 0;
}

}  // namespace sluice
