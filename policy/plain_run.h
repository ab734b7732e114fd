// Finding where a run of bytes that need no attention ends, in text that is mostly such bytes
// (JSON string content): 16 bytes at a time with SSE2, then byte by byte. Inline and with the
// stopping bytes as template arguments, so each caller's loop is specialized (it runs per
// string piece on the request path).
#pragma once

#include <cstddef>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice {

// The position of the first byte at or after `from` that ends a run, or text.size(). A run
// ends at '"' and '\\', at every byte below `FirstPlain`, and at the bytes from 0x80 up unless
// `HighBytesPlain`.
template <unsigned char FirstPlain, bool HighBytesPlain>
std::size_t plain_run_end(std::string_view text, std::size_t from) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    for (; from + 16 <= text.size(); from += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + from));
        __m128i low;
        if constexpr (HighBytesPlain)  // unsigned v < FirstPlain: min(v, FirstPlain - 1) == v
            low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(static_cast<char>(FirstPlain - 1))),
                                 v);
        else  // signed: the bytes from 0x80 up are negative, so they are below too
            low = _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(FirstPlain)));
        const __m128i stop =
            _mm_or_si128(low, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        if (const auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop)))
            return from + static_cast<std::size_t>(__builtin_ctz(mask));
    }
#endif
    for (; from < text.size(); ++from) {
        const auto c = static_cast<unsigned char>(text[from]);
        if (c < FirstPlain || c == '"' || c == '\\' || (!HighBytesPlain && c >= 0x80)) break;
    }
    return from;
}

}  // namespace sluice
