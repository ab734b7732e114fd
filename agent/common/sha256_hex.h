// SHA-256 in lower-case hex, for fingerprints and hashes the audit shows (never for secrets'
// storage).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

// The first `digest_bytes` bytes (at most 32) of SHA-256(`data`), two hex digits each.
std::string sha256_hex(std::string_view data, std::size_t digest_bytes = 32);

}  // namespace sluice
