// policy/sse_parser: no crash, and the events do not depend on how the bytes are cut.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "policy/sse_parser.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t chunk = 1 + data[0] % 32;
    std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    auto collect = [](std::vector<std::string>& into) {
        return [&into](const SseEvent& e) {
            into.push_back(e.event + '\x1f' + e.id + '\x1f' + e.data);
        };
    };
    std::vector<std::string> whole, pieces;
    SseParser a(4096), b(4096);
    const bool ok_a = a.feed(input, collect(whole));
    bool ok_b = true;
    for (std::size_t i = 0; i < input.size() && ok_b; i += chunk)
        ok_b = b.feed(input.substr(i, chunk), collect(pieces));
    fuzz::require(ok_a == ok_b);
    if (ok_a) fuzz::require(whole == pieces);
    return 0;
}
