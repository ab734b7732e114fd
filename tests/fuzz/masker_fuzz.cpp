// Text and JSON masking: no crash; a masked body is valid JSON in UTF-8; masking text that is
// valid UTF-8 keeps it valid and is idempotent for redaction.
#include <algorithm>
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
    if (size < 1) return 0;
    const unsigned selector = data[0];
    std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
    masking::MaskingSession session(fuzz::fuzz_control(selector), "fuzz-key");
    static const char* kPaths[] = {"/v1/chat/completions", "/v1/responses", "/v1/embeddings",
                                   "/v1/other"};
    const char* path = kPaths[(selector >> 2) % 4];

    // 1. As a JSON body, request then response.
    std::string body = input;
    auto status = session.mask_request(body, path);
    fuzz::require(status != masking::BodyStatus::failed);
    if (status == masking::BodyStatus::masked) {
        fuzz::require(!nlohmann::json::parse(body, nullptr, false).is_discarded());
        fuzz::require(fuzz::valid_utf8(body));
    } else {
        fuzz::require(body == input);
    }
    std::string response = input;
    status = session.mask_response(response, path);
    fuzz::require(status != masking::BodyStatus::failed);
    if (status == masking::BodyStatus::masked)
        fuzz::require(!nlohmann::json::parse(response, nullptr, false).is_discarded());

    // 2. As plain text inside a JSON string.
    if (fuzz::valid_utf8(input)) {
        std::string wrapped = nlohmann::json{{"input", input}}.dump();
        status = session.mask_request(wrapped, "/v1/embeddings");
        fuzz::require(status != masking::BodyStatus::failed &&
                      status != masking::BodyStatus::not_json);
        auto parsed = nlohmann::json::parse(wrapped, nullptr, false);
        fuzz::require(!parsed.is_discarded());
        const std::string masked = parsed["input"];
        fuzz::require(fuzz::valid_utf8(masked));
        // Streamed in deltas of any size, the client sees exactly the whole-text masking.
        if (selector % 3 != 1) {  // redact / partial+hash: no per-session numbering
            const std::size_t step = 1 + (selector >> 4);
            std::string stream;
            for (std::size_t i = 0; i < input.size();) {
                std::size_t j = std::min(input.size(), i + step);  // cut between characters
                while (j < input.size() && (static_cast<unsigned char>(input[j]) & 0xC0) == 0x80)
                    ++j;
                nlohmann::json chunk = {
                    {"choices",
                     {{{"index", 0}, {"delta", {{"content", input.substr(i, j - i)}}}}}}};
                stream += "data: " + chunk.dump() + "\n\n";
                i = j;
            }
            stream += "data: [DONE]\n\n";
            masking::MaskingSession streamed(fuzz::fuzz_control(selector), "fuzz-key");
            auto masker = streamed.make_stream_masker("/v1/chat/completions");
            std::string out;
            fuzz::require(masker->feed(stream, out) && masker->finish(out));
            std::string content;
            SseParser parser;
            parser.feed(out, [&](const SseEvent& e) {
                if (e.data == "[DONE]") return;
                auto event = nlohmann::json::parse(e.data);
                for (const auto& choice : event["choices"])
                    if (choice["delta"].contains("content"))
                        content += choice["delta"]["content"].get<std::string>();
            });
            // The whole text masked at once (responses are masked with the same rules in both
            // directions here; request bodies also match a folded view, answers do not yet).
            const auto control = fuzz::fuzz_control(selector);
            masking::TokenVault vault;
            masking::MaskStats stats;
            masking::TextMasker whole(*control, "fuzz-key", vault, stats);
            std::string expected = nlohmann::json(input).get<std::string>();
            (void)whole.mask(expected, masking::Direction::request);
            fuzz::require(content == expected);
        }
    }
    return 0;
}
