// The bytes of one stored recording (docs/recording.md, "Storage"): an entry in a segment file
// is a fixed header — magic, format byte, the SHA-256 (hex) of the recording's JSON text, the
// payload's length — then the payload: a zstd frame (format 0) or, with a key, a 12-byte nonce,
// the AES-256-GCM ciphertext of the zstd frame and its 16-byte tag (format 1; the header is the
// associated data, so neither the hash nor the format can be changed unnoticed).
#pragma once

#include <zstd.h>

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

inline constexpr std::string_view kEntryMagic = "SLUICEREC2";
inline constexpr std::size_t kEntryHeaderBytes = kEntryMagic.size() + 1 + 64 + 4;

struct EntryHeader {
    char format = 0;
    std::string sha256;  // hex, of the JSON text
    uint32_t payload_bytes = 0;
};

// nullopt: not an entry header (a torn tail, or not a recording at all).
std::optional<EntryHeader> parse_entry_header(std::string_view bytes);

// Seals recordings one after the other, reusing its zstd and cipher contexts and buffers: made
// once and used by one thread at a time.
class RecordingSealer {
public:
    explicit RecordingSealer(std::string key);  // key empty: compressed, not encrypted
    // Appends the entry for `json` (whose hash is `sha256`, hex) to `out`. Throws
    // std::runtime_error.
    void append_entry(std::string& out, std::string_view sha256, std::string_view json);

private:
    struct CompressDeleter {
        void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
    };
    struct CipherDeleter {
        void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
    };
    std::string key_;
    std::unique_ptr<ZSTD_CCtx, CompressDeleter> zstd_;
    std::unique_ptr<EVP_CIPHER_CTX, CipherDeleter> cipher_;
    std::string frame_;  // the zstd frame before encryption
};

// The JSON text of a whole entry (header and payload), checked against the hash its header
// names. Throws std::runtime_error saying what is wrong (changed, wrong key, no key).
std::string open_entry(std::string_view entry, const std::string& key);

// The first layout (one file per recording, `<sha256>.rec`: "SLUICEREC1", a format byte and the
// payload as above, the magic and format byte authenticated): still read, never written.
std::string open_legacy_recording(std::string_view file, const std::string& key);

}  // namespace sluice
