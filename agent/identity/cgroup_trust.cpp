#include "agent/identity/cgroup_trust.h"

#include <charconv>

namespace sluice {

std::optional<uint32_t> user_manager_uid(std::string_view component) {
    constexpr std::string_view kPrefix = "user@", kSuffix = ".service";
    if (component.size() <= kPrefix.size() + kSuffix.size() ||
        component.substr(0, kPrefix.size()) != kPrefix ||
        component.substr(component.size() - kSuffix.size()) != kSuffix) {
        return std::nullopt;
    }
    const std::string_view digits =
        component.substr(kPrefix.size(), component.size() - kPrefix.size() - kSuffix.size());
    uint32_t uid = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), uid);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return uid;
}

CgroupTrustBoundary find_trust_boundary(
    std::string_view path, const std::function<CgroupDirFacts(std::string_view prefix)>& facts_of,
    uint32_t system_uid) {
    CgroupTrustBoundary out;
    // Returns true (and fills the owner) when the directory is a delegation point.
    auto delegated_here = [&](const CgroupDirFacts& facts, std::string_view name) {
        const std::optional<uint32_t> manager = user_manager_uid(name);
        const bool procs_foreign = facts.procs_owner_uid && *facts.procs_owner_uid != system_uid;
        if (facts.present && facts.system_only && !procs_foreign && !manager) return false;
        out.delegated = true;
        if (facts.present && facts.owner_uid != system_uid) {
            out.owner_uid = facts.owner_uid;
        } else if (procs_foreign) {
            out.owner_uid = facts.procs_owner_uid;
        } else if (manager) {
            out.owner_uid = manager;
        }
        return true;
    };

    if (delegated_here(facts_of(""), "")) {
        out.system_path = "/";
        out.user_path = path.empty() || path == "/" ? "" : std::string(path);
        while (out.user_path.size() > 1 && out.user_path.back() == '/') out.user_path.pop_back();
        return out;
    }
    std::size_t pos = 0;
    while (pos < path.size()) {
        std::size_t next = path.find('/', pos);
        if (next == std::string_view::npos) next = path.size();
        if (next > pos) {
            const std::string_view name = path.substr(pos, next - pos);
            out.system_path += '/';
            out.system_path += name;
            ++out.trusted_components;
            if (delegated_here(facts_of(out.system_path), name)) {
                for (std::size_t rest = next; rest < path.size();) {
                    std::size_t end = path.find('/', rest + 1);
                    if (end == std::string_view::npos) end = path.size();
                    if (end > rest + 1) out.user_path.append(path.substr(rest, end - rest));
                    rest = end;
                }
                return out;
            }
        }
        pos = next + 1;
    }
    if (out.system_path.empty()) out.system_path = "/";
    return out;
}

}  // namespace sluice
