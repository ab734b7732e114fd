#include "agent/recording/recording_verify.h"

namespace sluice {

namespace {

// The hash a line names: the first "sha256" inside its "recording" object. Lines are found
// by substring, so the walk parses no JSON (the audit's members are written in name order, and
// a recording object holds only flat strings).
std::string named_recording(std::string_view line) {
    const auto at = line.find("\"recording\":{");
    if (at == std::string_view::npos) return {};
    const auto end = line.find('}', at);
    const std::string_view object = line.substr(at, end == std::string_view::npos ? 0 : end - at);
    constexpr std::string_view key = "\"sha256\":\"";
    const auto sha = object.find(key);
    if (sha == std::string_view::npos || object.size() < sha + key.size() + 64) return {};
    return std::string(object.substr(sha + key.size(), 64));
}

}  // namespace

RecordingCheckReport check_recordings(const std::vector<AuditFileText>& files,
                                      const RecordingStore& store) {
    RecordingCheckReport report;
    const auto stored = store.index();
    for (const AuditFileText& file : files) {
        std::string_view text = file.text;
        uint64_t line_number = 0;
        while (!text.empty()) {
            const auto newline = text.find('\n');
            const std::string_view line = text.substr(0, newline);
            text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
            ++line_number;
            const std::string sha = named_recording(line);
            if (sha.empty()) continue;
            ++report.named;
            const auto found = stored.find(sha);
            if (found == stored.end()) {
                ++report.missing;
                continue;
            }
            try {
                (void)store.load(found->second);
                ++report.matched;
            } catch (const std::exception& e) {
                report.bad.push_back({file.name, line_number, sha, e.what()});
            }
        }
    }
    return report;
}

std::string describe(const RecordingCheckReport& report, int& exit) {
    exit = report.bad.empty() ? 0 : 1;
    if (report.named == 0) return {};
    std::string out = "recordings: " + std::to_string(report.named) + " named, " +
                      std::to_string(report.matched) + " match their audit line";
    if (report.missing > 0)
        out +=
            ", " + std::to_string(report.missing) + " missing (removed by retention, or deleted)";
    out += "\n";
    for (const auto& bad : report.bad)
        out += "BAD recording " + bad.sha256 + " (" + bad.file + ":" + std::to_string(bad.line) +
               "): " + bad.detail + "\n";
    if (!report.bad.empty()) out += "result: recordings tampered\n";
    return out;
}

}  // namespace sluice
