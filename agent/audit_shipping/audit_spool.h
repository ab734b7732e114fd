// A bounded on-disk queue of audit lines for one destination, in state_dir: the lines in
// <name>.spool (appended), and how far the collector has taken them in <name>.offset. A line
// leaves the queue only once the collector took it (commit), so a collector down for an hour,
// or a sluiced restart, loses nothing; delivery is in order. The file is compacted when what was
// delivered is most of it.
//
// Past `max_bytes` of undelivered lines the owner decides (failure_mode): drop the oldest
// (drop_oldest_beyond_bound, counted) or keep them and stop serving.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

class AuditSpool {
public:
    // Opens or creates the spool (0600) in `dir` (created 0700). Throws std::runtime_error
    // naming the file when it cannot.
    AuditSpool(const std::string& dir, const std::string& name, uint64_t max_bytes);
    ~AuditSpool();
    AuditSpool(const AuditSpool&) = delete;
    AuditSpool& operator=(const AuditSpool&) = delete;

    // Appends whole lines ('\n'-terminated). False (with `error`) if the disk refused.
    bool append(std::string_view lines, std::string& error);

    // Up to `max_lines` of the oldest undelivered lines (each with its '\n'), starting at
    // offset().
    std::vector<std::string> peek(std::size_t max_lines, std::size_t max_bytes) const;
    uint64_t offset() const { return offset_; }
    // Changes when the file is compacted (offsets then mean something else).
    uint64_t generation() const { return generation_; }
    // Lines up to `offset` (a peek's start plus the bytes delivered) were delivered; never
    // moves back (the oldest may have been dropped meanwhile), and ignored when the file was
    // compacted since the peek (those lines may be sent again: at least once, never skipped).
    void commit_to(uint64_t generation, uint64_t offset);

    // Drops the oldest lines until what waits fits in max_bytes; returns how many.
    uint64_t drop_oldest_beyond_bound();

    uint64_t pending_bytes() const { return size_ - offset_; }
    bool over_bound() const { return pending_bytes() > max_bytes_; }

private:
    void save_offset();
    void compact_if_worth_it();
    std::string read_range(uint64_t from, std::size_t max_bytes) const;

    std::string spool_path_;
    std::string offset_path_;
    uint64_t max_bytes_;
    int fd_ = -1;
    uint64_t size_ = 0;
    uint64_t offset_ = 0;
    uint64_t generation_ = 0;
};

}  // namespace sluice
