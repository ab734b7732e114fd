#include "agent/audit/incomplete_requests.h"

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_writer.h"

namespace sluice {

std::vector<nlohmann::json> incomplete_request_records(std::string_view audit_text) {
    std::map<std::string, nlohmann::json> open;  // forwarded and not yet ended, by id
    std::vector<std::string> order;
    for (std::size_t start = 0; start < audit_text.size();) {
        const std::size_t end = audit_text.find('\n', start);
        if (end == std::string_view::npos) break;  // a partial last line
        auto record = nlohmann::json::parse(audit_text.substr(start, end - start), nullptr, false);
        start = end + 1;
        if (!record.is_object() || !record.contains("id") || !record["id"].is_string()) continue;
        const std::string id = record["id"];
        if (record.value("kind", "") == "forwarded") {
            if (open.emplace(id, std::move(record)).second) order.push_back(id);
        } else if (record.value("kind", "") != "approval") {
            // An approval event shares its request's id but never ends it.
            open.erase(id);
        }
    }
    std::vector<nlohmann::json> records;
    for (const auto& id : order) {
        auto it = open.find(id);
        if (it == open.end()) continue;
        nlohmann::json record = std::move(it->second);
        record["kind"] = "request";
        record["decision"]["action"] = "error";
        record["decision"]["reason"] = "sluiced_stopped";
        record["error"] =
            "sluiced stopped before this request completed; the upstream may have answered it";
        records.push_back(std::move(record));
    }
    return records;
}

namespace {

// The last `max_bytes` of the file at `path`, from the first whole line in them ("" when it
// cannot be read).
std::string tail_lines(const std::string& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in || max_bytes == 0) return {};
    const std::streamoff size = in.tellg();
    const std::streamoff from = size > static_cast<std::streamoff>(max_bytes)
                                    ? size - static_cast<std::streamoff>(max_bytes)
                                    : 0;
    std::string text(static_cast<std::size_t>(size - from), '\0');
    in.seekg(from);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    // Started mid-file: the first line is partial.
    if (from > 0)
        text.erase(0, text.find('\n') == std::string::npos ? text.size() : text.find('\n') + 1);
    return text;
}

}  // namespace

std::size_t record_incomplete_requests(const std::string& path, AuditWriter& audit) {
    std::string text = tail_lines(path, kIncompleteScanMaxBytes);
    // A request forwarded just before a rotation has its forwarded record in the file rotated
    // away (a small rotate_bytes under load makes that likely): its end is read too.
    const std::vector<std::string> rotated = rotated_audit_files(path);
    if (!rotated.empty() && text.size() < kIncompleteScanMaxBytes)
        text.insert(0, tail_lines(rotated.back(), kIncompleteScanMaxBytes - text.size()));
    const std::vector<nlohmann::json> records = incomplete_request_records(text);
    for (const auto& record : records) audit.write(record);
    return records.size();
}

}  // namespace sluice
