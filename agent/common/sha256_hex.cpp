#include "agent/common/sha256_hex.h"

#include <openssl/sha.h>

#include <algorithm>

namespace sluice {

std::string sha256_hex(std::string_view data, std::size_t digest_bytes) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    const std::size_t n = std::min<std::size_t>(digest_bytes, SHA256_DIGEST_LENGTH);
    std::string out;
    out.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xf]);
    }
    return out;
}

}  // namespace sluice
