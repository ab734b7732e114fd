#include "agent/identity/cgroup_attribution.h"

#include <cstdint>
#include <vector>

namespace sluice {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// Container ids are lowercase hex (docker/containerd/CRI-O/podman all print 64 chars; short
// forms exist in tests and older tools). Requiring hex keeps "docker-compose@x.service" out.
bool is_container_id(std::string_view s) {
    if (s.size() < 12 || s.size() > 128) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// A pod UID is a UUID; systemd slice names carry it with '_' where the UUID has '-', because
// '-' separates slice hierarchy levels in systemd unit names.
std::string normalise_pod_uid(std::string_view raw) {
    if (raw.size() != 36) return "";
    std::string uid(raw);
    for (size_t i = 0; i < uid.size(); ++i) {
        char& c = uid[i];
        const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash_position) {
            if (c != '_' && c != '-') return "";
            c = '-';
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return "";
        }
    }
    return uid;
}

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    size_t pos = 0;
    while (pos < path.size()) {
        size_t next = path.find('/', pos);
        if (next == std::string_view::npos) next = path.size();
        if (next > pos) parts.push_back(path.substr(pos, next - pos));
        pos = next + 1;
    }
    return parts;
}

struct ScopePattern {
    std::string_view prefix;
    std::string_view runtime;
};

// Longer prefixes first: "crio-conmon-" must win over "crio-". conmon scopes hold the
// runtime's monitor process for that container; they are attributed to the container.
// The same names appear as systemd scopes (libpod-<id>.scope, with the systemd cgroup driver)
// and as plain directories (libpod-<id> under libpod_parent or a --cgroup-parent, with the
// cgroupfs driver; crio-<id> under kubepods/.../pod<uid>).
constexpr ScopePattern kContainerScopes[] = {
    {"cri-containerd-", "containerd"}, {"crio-conmon-", "cri-o"}, {"crio-", "cri-o"},
    {"libpod-conmon-", "podman"},      {"libpod-", "podman"},     {"docker-", "docker"},
    {"nerdctl-", "containerd"},
};

// `stem` (a path component, ".scope" removed) names a container: its runtime and id.
bool container_scope(std::string_view stem, CgroupAttribution& out) {
    for (const auto& pattern : kContainerScopes) {
        if (starts_with(stem, pattern.prefix) &&
            is_container_id(stem.substr(pattern.prefix.size()))) {
            out.container_runtime = std::string(pattern.runtime);
            out.container_id = std::string(stem.substr(pattern.prefix.size()));
            return true;
        }
    }
    return false;
}

}  // namespace

CgroupAttribution parse_cgroup_path(std::string_view path) {
    return attribute_cgroup_path(path, SIZE_MAX).system;
}

SplitCgroupAttribution attribute_cgroup_path(std::string_view path, size_t trusted_components) {
    SplitCgroupAttribution split;
    const std::vector<std::string_view> parts = split_path(path);
    const bool cgroupfs_kubepods = !parts.empty() && parts[0] == "kubepods";
    bool after_cgroupfs_pod = false;

    for (size_t i = 0; i < parts.size(); ++i) {
        const std::string_view part = parts[i];
        CgroupAttribution& out = i < trusted_components ? split.system : split.user_controlled;
        if (ends_with(part, ".slice")) {
            out.slice = std::string(part);
            // kubepods-pod<uid>.slice, kubepods-burstable-pod<uid>.slice, ...
            if (starts_with(part, "kubepods")) {
                const size_t pod = part.rfind("-pod");
                if (pod != std::string_view::npos) {
                    const std::string_view raw = part.substr(
                        pod + 4, part.size() - (pod + 4) - std::string_view(".slice").size());
                    std::string uid = normalise_pod_uid(raw);
                    if (!uid.empty()) out.pod_uid = std::move(uid);
                }
            }
            continue;
        }
        if (ends_with(part, ".service") || ends_with(part, ".scope") ||
            ends_with(part, ".socket")) {
            out.unit = std::string(part);
            if (ends_with(part, ".scope")) container_scope(part.substr(0, part.size() - 6), out);
            continue;
        }
        // cgroupfs driver layouts: /libpod_parent/libpod-<id>, .../crio-<id>, /docker/<id>,
        // /kubepods/<qos>/pod<uid>/<id>.
        if (container_scope(part, out)) continue;
        if (i > 0 && parts[i - 1] == "docker" && is_container_id(part)) {
            out.container_runtime = "docker";
            out.container_id = std::string(part);
        } else if (cgroupfs_kubepods && starts_with(part, "pod")) {
            std::string uid = normalise_pod_uid(part.substr(3));
            if (!uid.empty()) {
                out.pod_uid = std::move(uid);
                after_cgroupfs_pod = true;
            }
        } else if (after_cgroupfs_pod && out.container_id.empty() && is_container_id(part)) {
            // The path does not say which CRI runtime made it; "cri" says as much as is known.
            out.container_runtime = "cri";
            out.container_id = std::string(part);
        }
    }
    return split;
}

std::string find_cgroup2_mount(std::string_view proc_mounts_text) {
    size_t pos = 0;
    while (pos < proc_mounts_text.size()) {
        size_t eol = proc_mounts_text.find('\n', pos);
        if (eol == std::string_view::npos) eol = proc_mounts_text.size();
        const std::string_view line = proc_mounts_text.substr(pos, eol - pos);
        pos = eol + 1;
        // device mountpoint fstype options dump pass
        const size_t a = line.find(' ');
        if (a == std::string_view::npos) continue;
        const size_t b = line.find(' ', a + 1);
        if (b == std::string_view::npos) continue;
        const size_t c = line.find(' ', b + 1);
        const std::string_view fstype =
            line.substr(b + 1, (c == std::string_view::npos ? line.size() : c) - b - 1);
        if (fstype != "cgroup2") continue;
        // The kernel escapes ' ', '\t', '\n' and '\\' in mount points as \ooo octal.
        const std::string_view escaped = line.substr(a + 1, b - a - 1);
        std::string mount;
        for (size_t i = 0; i < escaped.size(); ++i) {
            if (escaped[i] == '\\' && i + 3 < escaped.size()) {
                const std::string_view oct = escaped.substr(i + 1, 3);
                if (oct[0] >= '0' && oct[0] <= '3' && oct[1] >= '0' && oct[1] <= '7' &&
                    oct[2] >= '0' && oct[2] <= '7') {
                    mount += static_cast<char>((oct[0] - '0') * 64 + (oct[1] - '0') * 8 +
                                               (oct[2] - '0'));
                    i += 3;
                    continue;
                }
            }
            mount += escaped[i];
        }
        return mount;
    }
    return "";
}

}  // namespace sluice
