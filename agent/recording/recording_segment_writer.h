// Appends recordings to segment files (recording_store.h, docs/recording.md): a batch of sealed
// recordings goes to the open segment with one write(), and the segment is rolled by size and
// age so retention can remove old ones whole. Opening a file per recording cost more than the
// recording itself (docs/benchmarks.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/recording/recording_codec.h"
#include "agent/recording/recording_store.h"

namespace sluice {

struct SegmentLimits {
    uint64_t max_bytes = 64u * 1024 * 1024;
    std::chrono::seconds max_age{600};
};

// Segments small and young enough that retention, which removes whole segments, stays close to
// what it was asked for: at most an eighth of each limit.
SegmentLimits segment_limits_for(const RecordingRetention& retention);

class RecordingSegmentWriter {
public:
    RecordingSegmentWriter(std::string dir, std::string key, SegmentLimits limits);
    ~RecordingSegmentWriter();
    RecordingSegmentWriter(const RecordingSegmentWriter&) = delete;
    RecordingSegmentWriter& operator=(const RecordingSegmentWriter&) = delete;

    // Seals `json` into the pending batch and returns its hash (hex); `entry_bytes`: its size
    // on disk. Nothing is written yet. Throws std::runtime_error (the batch is unchanged).
    std::string add(std::string_view json, uint64_t* entry_bytes = nullptr);
    // Writes the pending batch to the segment (opened, or rolled to a new one, first). Throws
    // std::runtime_error naming the file; then none of the batch is in any segment and the next
    // commit starts a new segment.
    void commit();
    // The same for entries sealed elsewhere (RecordingSealer), concatenated.
    void write(std::string_view entries);
    // The segment being written; empty when none is open.
    const std::string& segment() const { return path_; }

private:
    void open_segment();
    void close_segment();

    const std::string dir_;
    const SegmentLimits limits_;
    RecordingSealer sealer_;
    std::string batch_;
    int fd_ = -1;
    std::string path_;
    uint64_t size_ = 0;
    std::chrono::steady_clock::time_point opened_;
    unsigned opened_count_ = 0;
};

}  // namespace sluice
