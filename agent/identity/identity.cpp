#include "agent/identity/identity.h"

#include "agent/identity/process_info.h"

namespace sluice {

std::string sanitize_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    size_t i = 0;
    const auto byte = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
    while (i < bytes.size()) {
        const unsigned char c = byte(i);
        size_t len = 0;
        uint32_t min_cp = 0;
        if (c < 0x80) {
            len = 1;
        } else if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            min_cp = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            min_cp = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            min_cp = 0x10000;
        }
        bool ok = len > 0 && i + len <= bytes.size();
        uint32_t cp = len == 1 ? c : (c & (0xff >> (len + 1)));
        for (size_t k = 1; ok && k < len; ++k) {
            ok = (byte(i + k) & 0xc0) == 0x80;
            cp = (cp << 6) | (byte(i + k) & 0x3f);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
        if (ok && len > 1 && (cp < min_cp || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)) {
            ok = false;
        }
        if (ok) {
            out.append(bytes.substr(i, len));
            i += len;
        } else {
            out += "\xef\xbf\xbd";
            ++i;
        }
    }
    return out;
}

nlohmann::json Identity::to_json() const {
    nlohmann::json groups_json = nlohmann::json::array();
    for (const auto& g : groups) groups_json.push_back(sanitize_utf8(g));
    nlohmann::json j = {
        {"uid", uid},
        {"user", sanitize_utf8(user)},
        {"pid", pid},
        {"exe", sanitize_utf8(exe)},
        {"comm", sanitize_utf8(comm)},
        {"cgroup", sanitize_utf8(cgroup)},
        {"unit", sanitize_utf8(unit)},
        {"gid", gid},
        {"groups", std::move(groups_json)},
        {"cmdline", sanitize_utf8(cmdline)},
        {"cgroup_id", cgroup_id},
        {"slice", sanitize_utf8(slice)},
    };
    if (!container_runtime.empty()) j["container_runtime"] = sanitize_utf8(container_runtime);
    if (!container_id.empty()) j["container_id"] = sanitize_utf8(container_id);
    if (!pod_uid.empty()) j["pod_uid"] = sanitize_utf8(pod_uid);
    return j;
}

IdentityResolver::IdentityResolver(IdentitySources sources)
    : sources_(std::move(sources)), processes_(sources_.proc_root), cgroups_(sources_.cgroup_root) {}

IdentityResolver::IdentityResolver(IdentitySources sources, UserDirectory::Lookup user_lookup)
    : sources_(std::move(sources)),
      processes_(sources_.proc_root),
      cgroups_(sources_.cgroup_root),
      users_(std::chrono::seconds(300), std::move(user_lookup)) {}

Identity IdentityResolver::resolve(uint32_t tgid, uint32_t uid, uint32_t gid,
                                   std::string_view kernel_comm, uint64_t cgroup_id) {
    Identity id;
    id.uid = uid;
    id.gid = gid;
    id.pid = tgid;
    id.cgroup_id = cgroup_id;
    // The kernel copies comm into a fixed 16-byte buffer; stop at its first NUL.
    if (const size_t nul = kernel_comm.find('\0'); nul != std::string_view::npos) {
        kernel_comm = kernel_comm.substr(0, nul);
    }

    // /proc is read after the connect the kernel recorded, so the process may have exited. A
    // reaped pid being reused within that window would need pid_max allocations in
    // milliseconds; we accept that risk rather than add a start-time handshake to the record.
    // (The cache's own key includes the start time, so it never serves one process for another.)
    const std::optional<ProcessInfo> proc = processes_.lookup(tgid);
    if (proc) {
        id.exe = proc->exe;
        id.cmdline = proc->cmdline;
    }
    // The kernel's comm is the connecting thread's name at connect time, which is what the
    // operator saw; /proc's is only the fallback when the record had none.
    id.comm = !kernel_comm.empty() ? std::string(kernel_comm) : (proc ? proc->comm : "");

    if (std::optional<CgroupFacts> facts = cgroup_facts(cgroup_id, proc)) {
        id.cgroup = std::move(facts->path);
        id.unit = std::move(facts->attribution.unit);
        id.slice = std::move(facts->attribution.slice);
        id.container_runtime = std::move(facts->attribution.container_runtime);
        id.container_id = std::move(facts->attribution.container_id);
        id.pod_uid = std::move(facts->attribution.pod_uid);
    }

    UserRecord user = users_.find(uid, gid);
    id.user = std::move(user.name);
    id.groups = std::move(user.groups);
    return id;
}

std::optional<IdentityResolver::CgroupFacts> IdentityResolver::cgroup_facts(
    uint64_t cgroup_id, const std::optional<ProcessInfo>& proc) {
    {
        std::lock_guard lock(cgroup_facts_mu_);
        if (const CgroupFacts* known = cgroup_facts_.find(cgroup_id)) return *known;
    }
    const std::optional<std::string> path =
        cgroups_.lookup(cgroup_id, proc ? std::string_view(proc->cgroup_path) : std::string_view());
    if (!path) return std::nullopt;  // not cached: the cgroup may appear on the next rescan
    CgroupFacts facts{*path, parse_cgroup_path(*path)};
    std::lock_guard lock(cgroup_facts_mu_);
    cgroup_facts_.put(cgroup_id, facts);
    return facts;
}

}  // namespace sluice
