// Recordings on disk (docs/recording.md): appended to segment files in state_dir/recordings,
// one entry each (recording_codec.h), addressed by the SHA-256 of the recording's JSON text (the
// hash the audit line carries). The recorder writes a segment (recording_segment_writer.h);
// this class reads them, finds a recording by its hash, and applies retention one segment at a
// time. Directory 0700, files 0600: only sluiced's user and root read them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice {

inline constexpr std::string_view kSegmentSuffix = ".recs";
inline constexpr std::string_view kLegacyRecordingSuffix = ".rec";  // one file per recording

struct RecordingRetention {
    std::chrono::seconds max_age{0};  // 0: kept whatever their age
    uint64_t max_total_bytes = 0;     // 0: no limit on the directory's total
};

// Where one recording is: its segment and the offset of its entry there.
struct StoredRecording {
    std::string sha256;
    std::string path;
    uint64_t offset = 0;
    uint64_t bytes = 0;   // the entry, on disk
    bool legacy = false;  // a whole `<sha256>.rec` file of the first layout
};

// A file retention handles: a segment (or a legacy file), its size and last write.
struct RecordingFile {
    std::string path;
    uint64_t bytes = 0;
    std::chrono::system_clock::time_point written;
};

// A 32-byte AES-256-GCM key read from `path`: 64 hex digits (an optional newline after) or 32
// raw bytes. Throws std::runtime_error with one line when the file cannot be read, is readable
// by group or others, or holds anything else.
std::string load_recording_key(const std::string& path);

class RecordingStore {
public:
    // `key` empty: recordings are read as compressed, not encrypted. Creates `dir` (0700) when
    // `create`; throws std::runtime_error naming it when it cannot.
    RecordingStore(std::string dir, std::string key, bool create);

    // Segments and legacy files, oldest first.
    std::vector<RecordingFile> files() const;
    // Every whole recording, in the order written. A segment's torn tail (a killed sluiced's
    // last write) is not listed: the audit never named it.
    std::vector<StoredRecording> list() const;
    std::unordered_map<std::string, StoredRecording> index() const;  // by hash
    // The JSON text of a recording, checked against its hash. Throws std::runtime_error naming
    // the file when it is unreadable, cannot be decrypted or does not match.
    std::string load(const StoredRecording& recording) const;
    std::string load(const std::string& sha256) const;  // looks it up first
    // Removes segments whose last write is older than max_age, then the oldest until the total
    // fits; never `in_use` (the segment being written). Returns how many files were removed.
    std::size_t enforce(const RecordingRetention& retention,
                        std::chrono::system_clock::time_point now,
                        std::string_view in_use = {}) const;
    // Temporary files the first layout's writer could leave after a crash.
    void remove_temporaries() const;
    const std::string& dir() const { return dir_; }
    const std::string& key() const { return key_; }

private:
    std::string dir_;
    std::string key_;
};

}  // namespace sluice
