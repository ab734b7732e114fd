// application/x-www-form-urlencoded (HTML forms, query strings) in and out, and the Cookie
// header. Bounded: at most kMaxFields fields; a malformed escape makes the whole input invalid.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

inline constexpr std::size_t kMaxFormFields = 32;

// nullopt: a bad %-escape, too many fields, or a field given twice (ambiguous: refused).
std::optional<std::map<std::string, std::string>> parse_form(std::string_view text);

std::string url_encode(std::string_view text);

// The value of cookie `name` in a Cookie header ("" when absent).
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace sluice
