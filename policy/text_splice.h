// Rewrites parts of a text without re-serializing it: the JSON bodies and events masking and
// policy edit keep every byte they do not change.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Bytes [begin, end) replaced by `replacement` (an insertion when begin == end).
struct TextSplice {
    std::size_t begin, end;
    std::string replacement;
};

// `text` with `splices` applied; they must not overlap. Their places are offsets into `text`
// from `offset`. Splices at one place are applied in the order given.
std::string apply_splices(std::string_view text, std::vector<TextSplice>& splices,
                          std::size_t offset = 0);

}  // namespace sluice
