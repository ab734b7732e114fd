// agent/tls ClientHello peek: no crash or over-read on any prefix, and a longer prefix never
// turns a verdict back into need_more.
#include <cstddef>
#include <cstdint>
#include <span>

#include "agent/tls/client_hello_peek.h"
#include "fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const auto full = parse_client_hello(std::span<const uint8_t>(data, size));
    if (full.status == ClientHelloStatus::ok && full.sni) {
        for (char c : *full.sni) fuzz::require(!(c >= 'A' && c <= 'Z'));
    }
    // Every prefix: need_more until the verdict, then the same verdict.
    const std::size_t step = size > 64 ? size / 16 : 1;
    for (std::size_t n = 0; n <= size; n += step) {
        const auto partial = parse_client_hello(std::span<const uint8_t>(data, n));
        if (partial.status != ClientHelloStatus::need_more && n < size)
            fuzz::require(parse_client_hello(std::span<const uint8_t>(data, size)).status ==
                          partial.status);
    }
    return 0;
}
