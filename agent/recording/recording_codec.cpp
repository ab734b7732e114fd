#include "agent/recording/recording_codec.h"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "agent/common/sha256_hex.h"

namespace sluice {

namespace {

constexpr char kPlain = 0;
constexpr char kSealed = 1;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
// Level -5 (zstd's fast mode, accelerated): on recordings of a few KB, level 1's Huffman-coded
// literals took half of the compression time for about a fifth fewer bytes, and -5 takes 40%
// fewer instructions than -1 for about a sixth more bytes (a 1.3 KB metadata recording: 30,000
// against 49,000 instructions, 1,086 against 937 bytes); the recorder's CPU is what the issue's
// goal counts (docs/benchmarks.md, "Session recording: history").
constexpr int kZstdLevel = -5;
// A recording larger than this after decompression is refused rather than allocated.
constexpr std::size_t kMaxRecordingBytes = 512u * 1024 * 1024;
constexpr std::string_view kLegacyMagic = "SLUICEREC1";

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

bool is_hex_digest(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string decompress(std::string_view frame) {
    const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > kMaxRecordingBytes)
        throw std::runtime_error("not a readable zstd frame");
    std::string out(static_cast<std::size_t>(size), '\0');
    // One context per thread: ZSTD_decompress() makes and frees one per call, which cost
    // `audit verify` more than the decompression itself (docs/benchmarks.md, "Audit verify").
    thread_local const std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> context(
        ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!context) throw std::runtime_error("cannot make a zstd context");
    const std::size_t n =
        ZSTD_decompressDCtx(context.get(), out.data(), out.size(), frame.data(), frame.size());
    if (ZSTD_isError(n) || n != out.size())
        throw std::runtime_error(std::string("zstd: ") +
                                 (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame"));
    return out;
}

// `sealed`: nonce, ciphertext, tag; `aad`: the bytes before them.
std::string decrypt(std::string_view aad, std::string_view sealed, const std::string& key) {
    if (sealed.size() < kNonceBytes + kTagBytes) throw std::runtime_error("entry too short");
    const std::string_view nonce = sealed.substr(0, kNonceBytes);
    const std::string_view cipher =
        sealed.substr(kNonceBytes, sealed.size() - kNonceBytes - kTagBytes);
    std::string tag(sealed.substr(sealed.size() - kTagBytes));
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                        EVP_CIPHER_CTX_free);
    std::string plain(cipher.size(), '\0');
    auto* plain_data = reinterpret_cast<unsigned char*>(plain.data());
    int len = 0;
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes_of(key), bytes_of(nonce)) !=
            1 ||
        EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes_of(aad), static_cast<int>(aad.size())) !=
            1 ||
        EVP_DecryptUpdate(ctx.get(), plain_data, &len, bytes_of(cipher),
                          static_cast<int>(cipher.size())) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), plain_data + len, &len) != 1)
        throw std::runtime_error("cannot decrypt (wrong key, or the recording was changed)");
    return plain;
}

std::string open_payload(char format, std::string_view aad, std::string_view payload,
                         const std::string& key) {
    if (format == kPlain) return decompress(payload);
    if (format != kSealed) throw std::runtime_error("unknown recording format");
    if (key.empty()) throw std::runtime_error("encrypted, and no recording.key_file is configured");
    return decompress(decrypt(aad, payload, key));
}

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::optional<EntryHeader> parse_entry_header(std::string_view bytes) {
    if (bytes.size() < kEntryHeaderBytes || !bytes.starts_with(kEntryMagic)) return std::nullopt;
    EntryHeader h;
    h.format = bytes[kEntryMagic.size()];
    h.sha256 = std::string(bytes.substr(kEntryMagic.size() + 1, 64));
    if (!is_hex_digest(h.sha256)) return std::nullopt;
    const auto* len = bytes_of(bytes.substr(kEntryMagic.size() + 1 + 64, 4));
    h.payload_bytes =
        uint32_t(len[0]) | uint32_t(len[1]) << 8 | uint32_t(len[2]) << 16 | uint32_t(len[3]) << 24;
    return h;
}

RecordingSealer::RecordingSealer(std::string key)
    : key_(std::move(key)), zstd_(ZSTD_createCCtx()), cipher_(EVP_CIPHER_CTX_new()) {
    if (!zstd_ || !cipher_)
        throw std::runtime_error("cannot make the recording's zstd/AES context");
    ZSTD_CCtx_setParameter(zstd_.get(), ZSTD_c_compressionLevel, kZstdLevel);
    if (!key_.empty() &&
        EVP_EncryptInit_ex(cipher_.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1)
        throw std::runtime_error("AES-256-GCM is not available");
}

void RecordingSealer::append_entry(std::string& out, std::string_view sha256,
                                   std::string_view json) {
    const std::size_t start = out.size();
    out.append(kEntryMagic);
    out.push_back(key_.empty() ? kPlain : kSealed);
    out.append(sha256);
    put_u32(out, 0);  // the payload's length, set below
    const std::size_t bound = ZSTD_compressBound(json.size());
    std::string& frame_into = key_.empty() ? out : frame_;
    const std::size_t frame_at = key_.empty() ? out.size() : 0;
    frame_into.resize(frame_at + bound);
    const std::size_t n =
        ZSTD_compress2(zstd_.get(), frame_into.data() + frame_at, bound, json.data(), json.size());
    if (ZSTD_isError(n)) {
        out.resize(start);
        throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
    }
    frame_into.resize(frame_at + n);
    std::size_t payload = n;
    if (!key_.empty()) {
        unsigned char nonce[kNonceBytes];
        const std::size_t cipher_at = out.size() + kNonceBytes;
        payload = kNonceBytes + n + kTagBytes;
        out.resize(out.size() + payload);
        auto* data = reinterpret_cast<unsigned char*>(out.data());
        // The header's length is authenticated, so it is written before the header is.
        for (int i = 0; i < 4; ++i)
            data[start + kEntryHeaderBytes - 4 + i] =
                static_cast<unsigned char>(payload >> (8 * i));
        int len = 0;
        if (RAND_bytes(nonce, sizeof nonce) != 1 ||
            EVP_EncryptInit_ex(cipher_.get(), nullptr, nullptr, bytes_of(key_), nonce) != 1 ||
            EVP_EncryptUpdate(cipher_.get(), nullptr, &len, data + start,
                              static_cast<int>(kEntryHeaderBytes)) != 1 ||
            EVP_EncryptUpdate(cipher_.get(), data + cipher_at, &len, bytes_of(frame_),
                              static_cast<int>(n)) != 1 ||
            EVP_EncryptFinal_ex(cipher_.get(), data + cipher_at + len, &len) != 1 ||
            EVP_CIPHER_CTX_ctrl(cipher_.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                data + cipher_at + n) != 1) {
            out.resize(start);
            throw std::runtime_error("AES-256-GCM encryption failed");
        }
        std::copy(nonce, nonce + kNonceBytes, data + cipher_at - kNonceBytes);
    }
    if (payload > UINT32_MAX) {
        out.resize(start);
        throw std::runtime_error("recording too large");
    }
    for (int i = 0; i < 4; ++i)
        out[start + kEntryHeaderBytes - 4 + i] = static_cast<char>((payload >> (8 * i)) & 0xff);
}

std::string open_entry(std::string_view entry, const std::string& key) {
    const auto header = parse_entry_header(entry);
    if (!header || entry.size() != kEntryHeaderBytes + header->payload_bytes)
        throw std::runtime_error("not a whole recording entry");
    std::string json = open_payload(header->format, entry.substr(0, kEntryHeaderBytes),
                                    entry.substr(kEntryHeaderBytes), key);
    if (sha256_hex(json) != header->sha256)
        throw std::runtime_error("its content does not match its hash (changed)");
    return json;
}

std::string open_legacy_recording(std::string_view file, const std::string& key) {
    if (file.size() <= kLegacyMagic.size() || !file.starts_with(kLegacyMagic))
        throw std::runtime_error("not a sluice recording");
    const std::size_t head = kLegacyMagic.size() + 1;
    return open_payload(file[kLegacyMagic.size()], file.substr(0, head), file.substr(head), key);
}

}  // namespace sluice
