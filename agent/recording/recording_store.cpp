#include "agent/recording/recording_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "agent/common/sha256_hex.h"
#include "agent/recording/recording_codec.h"

namespace sluice {

namespace fs = std::filesystem;

namespace {

bool is_hex_name(std::string_view name) {
    return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

class FileDescriptor {
public:
    explicit FileDescriptor(const std::string& path)
        : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        if (fd_ < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    }
    ~FileDescriptor() { ::close(fd_); }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    // Up to `size` bytes at `offset` (fewer at the end of the file).
    std::string read_at(uint64_t offset, std::size_t size) const {
        std::string out(size, '\0');
        std::size_t got = 0;
        while (got < size) {
            const ssize_t n =
                ::pread(fd_, out.data() + got, size - got, static_cast<off_t>(offset + got));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) throw std::runtime_error(std::string("read: ") + std::strerror(errno));
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        out.resize(got);
        return out;
    }

private:
    int fd_;
};

std::chrono::system_clock::time_point modified(const struct stat& st) {
    return std::chrono::system_clock::time_point(
        std::chrono::seconds(st.st_mtim.tv_sec) +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

bool is_legacy(const std::string& path) {
    const std::string name = fs::path(path).filename().string();
    return name.ends_with(kLegacyRecordingSuffix) &&
           is_hex_name(name.substr(0, name.size() - kLegacyRecordingSuffix.size()));
}

// The whole entries of one segment, in order; stops at a torn or unreadable tail.
void scan_segment(const RecordingFile& segment, std::vector<StoredRecording>& out) {
    const FileDescriptor fd(segment.path);
    uint64_t offset = 0;
    while (offset + kEntryHeaderBytes <= segment.bytes) {
        const auto header = parse_entry_header(fd.read_at(offset, kEntryHeaderBytes));
        if (!header) return;
        const uint64_t bytes = kEntryHeaderBytes + uint64_t{header->payload_bytes};
        if (offset + bytes > segment.bytes) return;
        out.push_back({header->sha256, segment.path, offset, bytes, false});
        offset += bytes;
    }
}

}  // namespace

std::string load_recording_key(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error("recording.key_file " + path + ": " + std::strerror(errno));
    if ((st.st_mode & 077) != 0)
        throw std::runtime_error("recording.key_file " + path +
                                 " is readable by group or others; chmod 0600 it");
    std::string text = read_file(path);
    if (text.size() == 32) return text;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.size() != 64 || !std::all_of(text.begin(), text.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        }))
        throw std::runtime_error("recording.key_file " + path +
                                 ": expected 64 hex digits (openssl rand -hex 32) or 32 bytes");
    std::string key(32, '\0');
    for (std::size_t i = 0; i < 32; ++i)
        key[i] = static_cast<char>(std::stoi(text.substr(2 * i, 2), nullptr, 16));
    return key;
}

RecordingStore::RecordingStore(std::string dir, std::string key, bool create)
    : dir_(std::move(dir)), key_(std::move(key)) {
    if (!create) return;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
    if (::chmod(dir_.c_str(), 0700) != 0)
        throw std::runtime_error("cannot chmod 0700 " + dir_ + ": " + std::strerror(errno));
}

std::vector<RecordingFile> RecordingStore::files() const {
    std::vector<RecordingFile> out;
    std::error_code ec;
    fs::directory_iterator it(dir_, ec);
    if (ec) throw std::runtime_error("cannot read " + dir_ + ": " + ec.message());
    for (const auto& entry : it) {
        const std::string path = entry.path().string();
        if (!path.ends_with(kSegmentSuffix) && !is_legacy(path)) continue;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        out.push_back({path, static_cast<uint64_t>(st.st_size), modified(st)});
    }
    // A segment is closed before the next is opened, so last writes order them; names (which
    // start with the time the segment was opened) break ties.
    std::sort(out.begin(), out.end(), [](const RecordingFile& a, const RecordingFile& b) {
        return a.written != b.written ? a.written < b.written : a.path < b.path;
    });
    return out;
}

std::vector<StoredRecording> RecordingStore::list() const {
    std::vector<StoredRecording> out;
    for (const RecordingFile& file : files()) {
        if (is_legacy(file.path)) {
            const std::string name = fs::path(file.path).filename().string();
            out.push_back({name.substr(0, 64), file.path, 0, file.bytes, true});
            continue;
        }
        try {
            scan_segment(file, out);
        } catch (const std::exception&) {
            // Removed by retention while listing, or unreadable: its recordings count as missing.
        }
    }
    return out;
}

std::unordered_map<std::string, StoredRecording> RecordingStore::index() const {
    std::unordered_map<std::string, StoredRecording> out;
    for (auto& r : list()) out.emplace(r.sha256, std::move(r));
    return out;
}

std::string RecordingStore::load(const StoredRecording& recording) const {
    try {
        if (recording.legacy) {
            std::string json = open_legacy_recording(read_file(recording.path), key_);
            if (sha256_hex(json) != recording.sha256)
                throw std::runtime_error("its content does not match its hash (changed)");
            return json;
        }
        const std::string entry =
            FileDescriptor(recording.path).read_at(recording.offset, recording.bytes);
        const auto header = parse_entry_header(entry);
        if (!header || header->sha256 != recording.sha256)
            throw std::runtime_error("the entry at offset " + std::to_string(recording.offset) +
                                     " is not recording " + recording.sha256 + " (changed)");
        return open_entry(entry, key_);
    } catch (const std::exception& e) {
        throw std::runtime_error(recording.path + ": " + e.what());
    }
}

std::string RecordingStore::load(const std::string& sha256) const {
    if (!is_hex_name(sha256)) throw std::runtime_error("not a recording hash: " + sha256);
    const auto all = index();
    const auto it = all.find(sha256);
    if (it == all.end()) throw std::runtime_error("no recording " + sha256 + " in " + dir_);
    return load(it->second);
}

std::size_t RecordingStore::enforce(const RecordingRetention& retention,
                                    std::chrono::system_clock::time_point now,
                                    std::string_view in_use) const {
    if (retention.max_age.count() == 0 && retention.max_total_bytes == 0) return 0;
    const auto all = files();
    uint64_t total = 0;
    for (const auto& f : all) total += f.bytes;
    std::size_t removed = 0;
    for (const auto& f : all) {
        const bool too_old = retention.max_age.count() != 0 && now - f.written > retention.max_age;
        const bool too_much = retention.max_total_bytes != 0 && total > retention.max_total_bytes;
        if (!too_old && !too_much) break;  // oldest first: the rest are younger and fit
        if (f.path == in_use) continue;
        if (::unlink(f.path.c_str()) == 0) ++removed;
        total -= f.bytes;
    }
    return removed;
}

void RecordingStore::remove_temporaries() const {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec))
        if (entry.path().filename().string().starts_with(".tmp-")) fs::remove(entry.path(), ec);
}

}  // namespace sluice
