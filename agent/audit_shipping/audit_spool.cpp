#include "agent/audit_shipping/audit_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace sluice {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// Compact when at least this much has been delivered and it is most of the file.
constexpr uint64_t kCompactAfterBytes = 4 * 1024 * 1024;

}  // namespace

AuditSpool::AuditSpool(const std::string& dir, const std::string& name, uint64_t max_bytes)
    : spool_path_(dir + "/" + name + ".spool"),
      offset_path_(dir + "/" + name + ".offset"),
      max_bytes_(max_bytes) {
    ::mkdir(dir.c_str(), 0700);
    fd_ = ::open(spool_path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0)
        throw std::runtime_error("audit shipping spool " + spool_path_ + ": " +
                                 std::strerror(errno));
    struct stat st {};
    ::fstat(fd_, &st);
    size_ = static_cast<uint64_t>(st.st_size);
    std::ifstream in(offset_path_);
    uint64_t saved = 0;
    if (in >> saved) offset_ = std::min(saved, size_);
    // A line a crash cut at the end is completed, so the next append starts a line of its own.
    if (size_ > offset_) {
        char last = 0;
        if (::pread(fd_, &last, 1, static_cast<off_t>(size_ - 1)) == 1 && last != '\n') {
            if (::write(fd_, "\n", 1) == 1) ++size_;
        }
    }
}

AuditSpool::~AuditSpool() {
    if (fd_ >= 0) ::close(fd_);
}

bool AuditSpool::append(std::string_view lines, std::string& error) {
    std::string_view rest = lines;
    while (!rest.empty()) {
        const ssize_t n = ::write(fd_, rest.data(), rest.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            error = spool_path_ + ": " + std::strerror(errno);
            // Take back a part written, so the spool never holds a cut line.
            if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
            }
            return false;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    size_ += lines.size();
    return true;
}

std::string AuditSpool::read_range(uint64_t from, std::size_t max_bytes) const {
    std::string out(max_bytes, '\0');
    std::size_t got = 0;
    while (got < max_bytes) {
        const ssize_t n =
            ::pread(fd_, out.data() + got, max_bytes - got, static_cast<off_t>(from + got));
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

std::vector<std::string> AuditSpool::peek(std::size_t max_lines, std::size_t max_bytes) const {
    std::vector<std::string> lines;
    std::string line;
    std::size_t bytes = 0;
    for (uint64_t at = offset_; at < size_;) {
        const std::string chunk =
            read_range(at, static_cast<std::size_t>(std::min<uint64_t>(kReadChunk, size_ - at)));
        if (chunk.empty()) break;
        at += chunk.size();
        for (std::size_t start = 0; start < chunk.size();) {
            const auto end = chunk.find('\n', start);
            if (end == std::string::npos) {
                line.append(chunk, start, std::string::npos);
                break;
            }
            line.append(chunk, start, end + 1 - start);
            start = end + 1;
            // At least one line, however long, so a batch always makes progress.
            if (!lines.empty() && bytes + line.size() > max_bytes) return lines;
            bytes += line.size();
            lines.push_back(std::move(line));
            line.clear();
            if (lines.size() >= max_lines) return lines;
        }
    }
    return lines;
}

void AuditSpool::commit_to(uint64_t generation, uint64_t offset) {
    if (generation != generation_ || offset <= offset_ || offset > size_) return;
    offset_ = offset;
    save_offset();
    compact_if_worth_it();
}

uint64_t AuditSpool::drop_oldest_beyond_bound() {
    uint64_t dropped = 0;
    while (over_bound()) {
        const auto lines = peek(256, SIZE_MAX);
        if (lines.empty()) break;
        for (const auto& line : lines) {
            if (!over_bound()) break;
            offset_ += line.size();
            ++dropped;
        }
    }
    if (dropped) {
        save_offset();
        compact_if_worth_it();
    }
    return dropped;
}

void AuditSpool::save_offset() {
    // Written to a temporary file and renamed: a crash leaves the old offset or the new one,
    // and at worst lines are sent twice, never skipped.
    const std::string temp = offset_path_ + ".tmp";
    {
        std::ofstream out(temp, std::ios::trunc);
        out << offset_ << '\n';
    }
    ::chmod(temp.c_str(), 0600);
    ::rename(temp.c_str(), offset_path_.c_str());
}

void AuditSpool::compact_if_worth_it() {
    const bool all_delivered = offset_ == size_ && offset_ > 0;
    const bool mostly_delivered = offset_ >= kCompactAfterBytes && offset_ * 2 >= size_;
    if (!all_delivered && !mostly_delivered) return;
    const std::string rest = read_range(offset_, static_cast<std::size_t>(size_ - offset_));
    const std::string temp = spool_path_ + ".tmp";
    const int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (::write(fd, rest.data(), rest.size()) != static_cast<ssize_t>(rest.size())) {
        ::close(fd);
        ::unlink(temp.c_str());
        return;
    }
    // Offset 0 is saved before the rename: a crash in between resends, never skips.
    const uint64_t old_offset = offset_;
    offset_ = 0;
    save_offset();
    if (::rename(temp.c_str(), spool_path_.c_str()) != 0) {
        offset_ = old_offset;
        save_offset();
        ::close(fd);
        return;
    }
    ::close(fd_);
    fd_ = fd;
    size_ = rest.size();
    ++generation_;
}

}  // namespace sluice
