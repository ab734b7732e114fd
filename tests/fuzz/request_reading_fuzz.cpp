// Differential: sluice's one reading of a request body (policy/request_reading.h) against
// nlohmann::json's strict parse. Whatever sluice reads, the reference reads alike — same
// strings and member names in the same order, no duplicate names, no byte order mark — so a
// disagreement is always a refusal, never a forwarded body; and what request masking writes
// reads strictly again; the reading's view of the body's values (policy/json_view.h, where the
// policy's facts come from) holds the values the parse holds, down to the length of their
// dump. The first byte picks the endpoint, the rest is the body.
#include <yaml-cpp/yaml.h>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "policy/json_view.h"
#include "policy/masking/masking_config.h"
#include "policy/masking/request_masker.h"
#include "policy/request_reading.h"

using namespace sluice;

namespace {

struct Reference {
    bool ok = false;
    std::vector<std::string> strings;  // values and member names, in document order
};

Reference read_reference(std::string_view body) {
    Reference out;
    if (body.substr(0, 3) == "\xEF\xBB\xBF")
        return out;  // nlohmann skips a BOM; RFC 8259 §8.1 forbids it
    // nlohmann ends its input at a NUL byte ("{}\0junk" parses); RFC 8259 has no raw NUL anywhere.
    if (body.find('\0') != std::string_view::npos) return out;
    std::vector<std::set<std::string>> names;
    bool duplicate = false;
    const auto parsed = nlohmann::json::parse(
        body,
        [&](int, nlohmann::json::parse_event_t event, nlohmann::json& value) {
            using Event = nlohmann::json::parse_event_t;
            if (event == Event::object_start) names.emplace_back();
            if (event == Event::object_end && !names.empty()) names.pop_back();
            if (event == Event::key) {
                const auto& name = value.get_ref<const std::string&>();
                duplicate |= !names.empty() && !names.back().insert(name).second;
                out.strings.push_back(name);
            }
            if (event == Event::value && value.is_string())
                out.strings.push_back(value.get<std::string>());
            return true;
        },
        false);
    out.ok = !parsed.is_discarded() && parsed.is_object() && !duplicate;
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr const char* kPaths[] = {"/v1/chat/completions", "/v1/responses",
                                             "/v1/embeddings", "/v1/completions"};
    const char* path = kPaths[data[0] % 4];
    const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
    JsonView view;
    const RequestReading reading = read_request_body(body, path, true, &view);
    const Reference reference = read_reference(body);
    const bool too_deep = reading.problem.find("nested too deeply") != std::string::npos;
    // The reference has no depth limit; every other refusal must be one of its refusals too.
    if (!too_deep) fuzz::require(reading.readable() == reference.ok);
    if (!reading.readable()) {
        fuzz::require(reading.texts.empty());
        return 0;
    }
    std::vector<std::string> top;
    for (const auto& node : reading.texts)
        if (node.parent < 0) top.push_back(node.text);
    fuzz::require(top == reference.strings);
    fuzz::require(view.dump_size(view.root()) == nlohmann::json::parse(body).dump().size());
    for (const auto& text : prompt_scan_texts(reading)) fuzz::require(fuzz::valid_utf8(text));

    static const auto control =
        masking::parse_masking(YAML::Load("[{entities: [all], action: redact}]"), "fuzz", {});
    masking::TokenVault vault;
    masking::MaskStats stats;
    masking::TextMasker masker(*control, "k", vault, stats);
    std::string masked = body;
    const auto status = masking::mask_request_reading(masked, path, reading, masker);
    if (status == masking::BodyStatus::masked) {
        fuzz::require(read_request_body(masked, path, false).readable());
        fuzz::require(read_reference(masked).ok);
    } else if (status == masking::BodyStatus::unchanged) {
        fuzz::require(masked == body);
    }
    return 0;
}
