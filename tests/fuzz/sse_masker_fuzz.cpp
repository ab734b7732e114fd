// The SSE stream masker: no crash; whatever arrives and however it is cut, the output is SSE
// whose every data payload is JSON (or [DONE]) in valid UTF-8, and nothing follows an error.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_masking_common.h"
#include "fuzz_support.h"
#include "policy/masking/masking_session.h"
#include "policy/sse_parser.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned selector = data[0];
    const std::size_t chunk = 1 + data[1] % 64;
    std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
    masking::MaskingSession session(fuzz::fuzz_control(selector), "fuzz-key");
    if (selector & 4) {  // issue placeholders so restoration has something to do
        std::string request = R"({"input":"a@example.com b@example.org 4111111111111111"})";
        (void)session.mask_request(request, "/v1/embeddings");
    }
    auto masker =
        session.make_stream_masker((selector & 8) ? "/v1/responses" : "/v1/chat/completions");
    std::string out;
    bool ok = true;
    for (std::size_t i = 0; i < input.size() && ok; i += chunk)
        ok = masker->feed(input.substr(i, chunk), out);
    if (ok) ok = masker->finish(out);
    fuzz::require(ok != masker->failed());
    fuzz::require(fuzz::valid_utf8(out));

    SseParser parser;
    std::string last;
    parser.feed(out, [&](const SseEvent& e) {
        last = e.data;
        if (e.data == "[DONE]") return;
        fuzz::require(!nlohmann::json::parse(e.data, nullptr, false).is_discarded());
    });
    // A failed stream ends with our error event and nothing after it.
    if (masker->failed()) fuzz::require(last.find("masking_failed") != std::string::npos);
    return 0;
}
