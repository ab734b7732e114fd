#include "agent/audit/audit_attachment.h"

#include <nlohmann/json.hpp>

namespace sluice {

// Only on a failed store, so the line is parsed and written again; its members stay in name
// order (nlohmann's object is a std::map, and AuditRecord writes them in that order too).
std::string line_without_recording(std::string_view line, std::string_view error) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object()) return std::string(line);
    nlohmann::json recording = {{"error", error}};
    if (const auto found = record.find("recording");
        found != record.end() && found->is_object() && found->contains("session"))
        recording["session"] = (*found)["session"];
    record["recording"] = std::move(recording);
    return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace sluice
