// policy/json_scan: no crash; never accepts a text nlohmann::json refuses; every string it
// reports decodes to what nlohmann reads; integers it reads are nlohmann's.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "policy/json_scan.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> strings, numbers;
    const bool accepted = scan_json(text, 64, [&](const JsonValue& v) {
        const auto bytes = text.substr(v.begin, v.end - v.begin);
        if (v.kind == JsonKind::string) strings.push_back(bytes);
        if (v.kind == JsonKind::number) numbers.push_back(bytes);
    });
    if (!accepted) return 0;
    fuzz::require(!nlohmann::json::parse(text, nullptr, false).is_discarded());
    for (auto literal : strings)
        fuzz::require(decode_json_string(literal) ==
                      nlohmann::json::parse(literal).get<std::string>());
    for (auto literal : numbers)
        if (auto value = json_int64(literal)) {
            const auto parsed = nlohmann::json::parse(literal);
            fuzz::require(parsed.is_number_integer() &&
                          (parsed.is_number_unsigned()
                               ? static_cast<int64_t>(parsed.get<uint64_t>())
                               : parsed.get<int64_t>()) == *value);
        }
    return 0;
}
