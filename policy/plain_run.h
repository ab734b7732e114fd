// Finding where a run of bytes that need no attention ends, in text that is mostly such bytes
// (JSON string content): 16 bytes at a time with SSE2, then byte by byte.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice {

// Which bytes end a run: '"' and '\\' always, every byte below `first_plain`, and the bytes
// from 0x80 up unless `high_bytes_plain`.
struct RunStops {
    unsigned char first_plain;
    bool high_bytes_plain;
};

// The position of the first byte at or after `from` that `stops` names, or text.size().
std::size_t plain_run_end(std::string_view text, std::size_t from, RunStops stops);

}  // namespace sluice
