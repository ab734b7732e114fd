// base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// Strict: only the URL-safe alphabet, no '=' padding, no whitespace, and unused trailing bits
// must be zero, so every value has exactly one encoding. nullopt for anything else.
std::optional<std::string> decode_base64url(std::string_view text);
std::string encode_base64url(std::string_view bytes);

}  // namespace sluice
