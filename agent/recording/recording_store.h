// Recordings on disk (docs/recording.md): one file per recorded request in
// state_dir/recordings, named by the SHA-256 of its JSON text (the hash the audit line carries),
// zstd-compressed and, with a key file, sealed with AES-256-GCM. A file is written under a
// temporary name and renamed, so a crash never leaves a half-written recording under a name the
// audit could claim. Directory 0700, files 0600: only sluiced's user and root read them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

inline constexpr std::string_view kRecordingSuffix = ".rec";

struct RecordingRetention {
    std::chrono::seconds max_age{0};  // 0: kept whatever their age
    uint64_t max_total_bytes = 0;     // 0: no limit on the directory's total
};

struct StoredRecording {
    std::string sha256;  // its name, without the suffix
    std::string path;
    uint64_t bytes = 0;  // on disk
    std::chrono::system_clock::time_point written;
};

// A 32-byte AES-256-GCM key read from `path`: 64 hex digits (an optional newline after) or 32
// raw bytes. Throws std::runtime_error with one line when the file cannot be read, is readable
// by group or others, or holds anything else.
std::string load_recording_key(const std::string& path);

class RecordingStore {
public:
    // `key` empty: recordings are compressed, not encrypted. Creates `dir` (0700) when
    // `create`; throws std::runtime_error naming it when it cannot.
    RecordingStore(std::string dir, std::string key, bool create);

    // Writes `json` (its hash is its name) and returns the hash; `file_bytes`: the file's size.
    // Throws std::runtime_error.
    std::string store(std::string_view json, uint64_t* file_bytes = nullptr) const;
    // The JSON text of recording `sha256`, checked against its name. Throws std::runtime_error
    // naming the file when it is missing, unreadable, cannot be decrypted or does not match.
    std::string load(const std::string& sha256) const;
    std::vector<StoredRecording> list() const;  // oldest first
    // Removes recordings older than max_age, then the oldest until the total fits. Returns how
    // many were removed.
    std::size_t enforce(const RecordingRetention& retention,
                        std::chrono::system_clock::time_point now) const;
    // Temporary files a crash left behind.
    void remove_temporaries() const;
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    std::string key_;
};

// The file's bytes for `json`, and back (exposed for tests). `key` empty: no encryption.
std::string seal_recording(std::string_view json, const std::string& key);
std::string open_recording(std::string_view file, const std::string& key);

}  // namespace sluice
