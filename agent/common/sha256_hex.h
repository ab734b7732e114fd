// SHA-256 in lower-case hex, for fingerprints and hashes the audit shows (never for secrets'
// storage).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {

// The first `digest_bytes` bytes (at most 32) of SHA-256(`data`), two hex digits each.
std::string sha256_hex(std::string_view data, std::size_t digest_bytes = 32);

// SHA-256 of bytes that arrive in pieces (an upload, a binary message), in lower-case hex.
class Sha256Stream {
public:
    Sha256Stream();
    ~Sha256Stream();
    Sha256Stream(Sha256Stream&&) noexcept;
    Sha256Stream& operator=(Sha256Stream&&) noexcept;
    void update(std::string_view piece);
    // The hex digest of everything so far; "" when OpenSSL failed on the way. Ends the stream.
    std::string finish_hex();

private:
    struct Context;
    std::unique_ptr<Context> context_;
};

}  // namespace sluice
