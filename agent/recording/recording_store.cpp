#include "agent/recording/recording_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "agent/common/sha256_hex.h"

namespace sluice {

namespace fs = std::filesystem;

namespace {

// File layout: magic, one format byte, then a zstd frame (format 0) or a 12-byte nonce, the
// AES-256-GCM ciphertext of the zstd frame and its 16-byte tag (format 1). The magic and the
// format byte are the GCM associated data, so neither can be changed unnoticed.
constexpr std::string_view kMagic = "SLUICEREC1";
constexpr char kPlain = 0;
constexpr char kSealed = 1;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
// Level 1: recordings are JSON and compress well even so; higher levels cost the recorder
// thread more CPU than they save on disk.
constexpr int kZstdLevel = 1;
// A recording larger than this after decompression is refused rather than allocated.
constexpr std::size_t kMaxRecordingBytes = 512u * 1024 * 1024;

struct CipherDeleter {
    void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter>;

std::string compress(std::string_view text) {
    std::string out(ZSTD_compressBound(text.size()), '\0');
    const std::size_t n =
        ZSTD_compress(out.data(), out.size(), text.data(), text.size(), kZstdLevel);
    if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    out.resize(n);
    return out;
}

std::string decompress(std::string_view frame) {
    const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > kMaxRecordingBytes)
        throw std::runtime_error("not a readable zstd frame");
    std::string out(static_cast<std::size_t>(size), '\0');
    const std::size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
    if (ZSTD_isError(n) || n != out.size())
        throw std::runtime_error(std::string("zstd: ") +
                                 (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
    return out;
}

std::string header(char format) {
    std::string h(kMagic);
    h.push_back(format);
    return h;
}

std::string encrypt(std::string_view plain, const std::string& key) {
    std::string out = header(kSealed);
    unsigned char nonce[kNonceBytes];
    if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("no randomness for a nonce");
    out.append(reinterpret_cast<const char*>(nonce), sizeof nonce);
    CipherContext ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    const std::string aad = out.substr(0, kMagic.size() + 1);
    std::string cipher(plain.size(), '\0');
    auto* cipher_data = reinterpret_cast<unsigned char*>(cipher.data());
    unsigned char tag[kTagBytes];
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                           reinterpret_cast<const unsigned char*>(key.data()), nonce) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), cipher_data, &len,
                          reinterpret_cast<const unsigned char*>(plain.data()),
                          static_cast<int>(plain.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), cipher_data + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1)
        throw std::runtime_error("AES-256-GCM encryption failed");
    out += cipher;
    out.append(reinterpret_cast<const char*>(tag), sizeof tag);
    return out;
}

std::string decrypt(std::string_view file, const std::string& key) {
    const std::size_t head = kMagic.size() + 1;
    if (file.size() < head + kNonceBytes + kTagBytes) throw std::runtime_error("file too short");
    const auto* nonce = reinterpret_cast<const unsigned char*>(file.data() + head);
    const std::string_view cipher =
        file.substr(head + kNonceBytes, file.size() - head - kNonceBytes - kTagBytes);
    std::string tag(file.substr(file.size() - kTagBytes));
    CipherContext ctx(EVP_CIPHER_CTX_new());
    std::string plain(cipher.size(), '\0');
    auto* plain_data = reinterpret_cast<unsigned char*>(plain.data());
    int len = 0;
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                           reinterpret_cast<const unsigned char*>(key.data()), nonce) != 1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(file.data()),
                          static_cast<int>(head)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), plain_data, &len,
                          reinterpret_cast<const unsigned char*>(cipher.data()),
                          static_cast<int>(cipher.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), plain_data + len, &len) != 1)
        throw std::runtime_error("cannot decrypt (wrong key, or the file was changed)");
    return plain;
}

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

void write_all(int fd, std::string_view bytes, const std::string& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

std::string seal_recording(std::string_view json, const std::string& key) {
    const std::string frame = compress(json);
    if (key.empty()) return header(kPlain) + frame;
    return encrypt(frame, key);
}

std::string open_recording(std::string_view file, const std::string& key) {
    if (file.size() <= kMagic.size() || file.substr(0, kMagic.size()) != kMagic)
        throw std::runtime_error("not a sluice recording");
    const char format = file[kMagic.size()];
    if (format == kPlain) return decompress(file.substr(kMagic.size() + 1));
    if (format != kSealed) throw std::runtime_error("unknown recording format");
    if (key.empty()) throw std::runtime_error("encrypted, and no recording.key_file is configured");
    return decompress(decrypt(file, key));
}

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

std::string RecordingStore::store(std::string_view json, uint64_t* file_bytes) const {
    const std::string sha = sha256_hex(json);
    const std::string bytes = seal_recording(json, key_);
    if (file_bytes != nullptr) *file_bytes = bytes.size();
    const std::string path = dir_ + "/" + sha + std::string(kRecordingSuffix);
    const std::string temporary = dir_ + "/.tmp-" + sha;
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error("cannot create " + temporary + ": " + std::strerror(errno));
    // Not synced: the rename alone means a killed sluiced leaves a whole file or none, and a
    // sync per recording cost more than the recording (docs/benchmarks.md) while the audit line
    // naming it is not synced either.
    try {
        write_all(fd, bytes, temporary);
    } catch (...) {
        ::close(fd);
        ::unlink(temporary.c_str());
        throw;
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temporary.c_str());
        throw std::runtime_error("cannot rename to " + path + ": " + std::strerror(error));
    }
    return sha;
}

std::string RecordingStore::load(const std::string& sha256) const {
    if (!is_hex_name(sha256)) throw std::runtime_error("not a recording hash: " + sha256);
    const std::string path = dir_ + "/" + sha256 + std::string(kRecordingSuffix);
    std::string json;
    try {
        json = open_recording(read_file(path), key_);
    } catch (const std::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    if (sha256_hex(json) != sha256)
        throw std::runtime_error(path + ": its content does not match its hash (changed)");
    return json;
}

std::vector<StoredRecording> RecordingStore::list() const {
    std::vector<StoredRecording> out;
    std::error_code ec;
    fs::directory_iterator it(dir_, ec);
    if (ec) throw std::runtime_error("cannot read " + dir_ + ": " + ec.message());
    for (const auto& entry : it) {
        const std::string name = entry.path().filename().string();
        if (!name.ends_with(kRecordingSuffix)) continue;
        const std::string sha = name.substr(0, name.size() - kRecordingSuffix.size());
        if (!is_hex_name(sha)) continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) != 0) continue;
        const auto written = std::chrono::system_clock::time_point(
            std::chrono::seconds(st.st_mtim.tv_sec) +
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
        out.push_back({sha, entry.path().string(), static_cast<uint64_t>(st.st_size), written});
    }
    std::sort(out.begin(), out.end(), [](const StoredRecording& a, const StoredRecording& b) {
        return a.written != b.written ? a.written < b.written : a.sha256 < b.sha256;
    });
    return out;
}

std::size_t RecordingStore::enforce(const RecordingRetention& retention,
                                    std::chrono::system_clock::time_point now) const {
    if (retention.max_age.count() == 0 && retention.max_total_bytes == 0) return 0;
    const auto recordings = list();
    uint64_t total = 0;
    for (const auto& r : recordings) total += r.bytes;
    std::size_t removed = 0;
    for (const auto& r : recordings) {
        const bool too_old = retention.max_age.count() != 0 && now - r.written > retention.max_age;
        const bool too_much = retention.max_total_bytes != 0 && total > retention.max_total_bytes;
        if (!too_old && !too_much) break;  // oldest first: the rest are younger and fit
        if (::unlink(r.path.c_str()) == 0) ++removed;
        total -= r.bytes;
    }
    return removed;
}

void RecordingStore::remove_temporaries() const {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec))
        if (entry.path().filename().string().starts_with(".tmp-")) fs::remove(entry.path(), ec);
}

}  // namespace sluice
