#include "policy/plain_run.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice {

std::size_t plain_run_end(std::string_view text, std::size_t from, RunStops stops) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i first_plain = _mm_set1_epi8(static_cast<char>(stops.first_plain));
    const __m128i last_low = _mm_set1_epi8(static_cast<char>(stops.first_plain - 1));
    for (; from + 16 <= text.size(); from += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + from));
        // Unsigned "v < first_plain" is min(v, first_plain - 1) == v; the signed compare also
        // takes the bytes from 0x80 up, which are negative.
        const __m128i low = stops.high_bytes_plain ? _mm_cmpeq_epi8(_mm_min_epu8(v, last_low), v)
                                                   : _mm_cmplt_epi8(v, first_plain);
        const __m128i stop = _mm_or_si128(low, _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
        if (const auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop)))
            return from + static_cast<std::size_t>(__builtin_ctz(mask));
    }
#endif
    for (; from < text.size(); ++from) {
        const auto c = static_cast<unsigned char>(text[from]);
        if (c < stops.first_plain || c == '"' || c == '\\' || (c >= 0x80 && !stops.high_bytes_plain)) break;
    }
    return from;
}

}  // namespace sluice
