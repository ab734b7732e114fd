// Shell-style globs for principals (units, cgroups, exe paths, containers), models and endpoint
// paths. Byte-wise, case-sensitive, anchored at both ends.
//
//   *        any run of bytes, including none and including '/' (so "/v1/*" covers
//            "/v1/chat/completions"; paths are matched whole, not per segment)
//   ?        exactly one byte
//   [abc]    one byte from the set; ranges "a-z"; "[!x]" or "[^x]" negates; a ']' right after
//            the opening '[' (or '[!') is literal; '\' escapes inside a class
//   \x       the byte x literally (so "\*" matches a star)
//
// The empty pattern matches only the empty string.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// Why a pattern is malformed (unterminated class, trailing backslash), or nullopt when it is
// fine. The loader refuses malformed globs rather than guessing what was meant.
std::optional<std::string> glob_error(std::string_view pattern);

// True when `text` matches `pattern` as a whole. A malformed class is matched as a literal '['.
bool glob_match(std::string_view pattern, std::string_view text);

// True when the pattern has no wildcard, so a plain comparison is enough.
bool glob_is_literal(std::string_view pattern);

// The bytes every match must start with: the pattern up to its first '*', '?' or '[', with
// escapes resolved ("/opt/a\*b*" → "/opt/a*b"). For a literal pattern, the whole text.
std::string glob_literal_prefix(std::string_view pattern);

}  // namespace sluice
