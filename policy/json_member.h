// Reading members of parsed upstream JSON, which is untrusted: json::value() and get<>() throw
// when a member has another type; these fall back instead. And one serialization for what is
// written back to a client: invalid UTF-8 in a value becomes U+FFFD rather than an exception.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice {

inline int64_t int_or(const nlohmann::json& object, const char* key, int64_t fallback) {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : fallback;
}

inline std::string string_or(const nlohmann::json& object, const char* key,
                             const std::string& fallback = {}) {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

inline std::string dump_json(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sluice
