#include "agent/gate/policy_file.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace sluice {

namespace {

constexpr const char* kZoneinfoDir = "/usr/share/zoneinfo/";

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return std::nullopt;
    return std::move(text).str();
}

bool is_safe_zone_name(std::string_view zone) {
    if (zone.empty() || zone.front() == '/' || zone.find("..") != std::string_view::npos)
        return false;
    for (char c : zone)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
              c == '+'))
            return false;
    return true;
}

}  // namespace

std::optional<std::string> read_zoneinfo(std::string_view zone) {
    if (!is_safe_zone_name(zone)) return std::nullopt;
    return read_file(kZoneinfoDir + std::string(zone));
}

PolicyLoadResult load_policy_file(const std::string& path) {
    auto text = read_file(path);
    if (!text) return PolicyLoadResult{nullptr, path + ": cannot read policy file"};
    PolicyLoadOptions options;
    options.offsets = tzif_resolver([](std::string_view zone) { return read_zoneinfo(zone); });
    return load_policy(*text, path, options);
}

}  // namespace sluice
