#include "agent/identity/identity.h"

#include "agent/identity/cgroup_ownership.h"
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

namespace {

void add_container_fields(nlohmann::json& j, const std::string& runtime, const std::string& id,
                          const std::string& pod_uid) {
    if (!runtime.empty()) j["container_runtime"] = sanitize_utf8(runtime);
    if (!id.empty()) j["container_id"] = sanitize_utf8(id);
    if (!pod_uid.empty()) j["pod_uid"] = sanitize_utf8(pod_uid);
}

void add_if_set(nlohmann::json& j, const char* key, const std::string& value) {
    if (!value.empty()) j[key] = sanitize_utf8(value);
}

ContainerRecordSources with_system_uid(ContainerRecordSources sources, uint32_t system_uid) {
    sources.system_uid = system_uid;
    return sources;
}

}  // namespace

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
        {"exe_trusted", exe_trusted},
    };
    add_container_fields(j, container_runtime, container_id, pod_uid);
    add_if_set(j, "container_name", container_name);
    add_if_set(j, "container_image", container_image);
    add_if_set(j, "pod_name", pod_name);
    add_if_set(j, "pod_namespace", pod_namespace);
    if (namespace_uid) j["namespace_uid"] = *namespace_uid;
    if (user_controlled) {
        const CgroupAttribution& labels = user_controlled->labels;
        nlohmann::json u = {
            {"uid", user_controlled->owner_uid ? nlohmann::json(*user_controlled->owner_uid)
                                               : nlohmann::json(nullptr)},
            {"delegated_at", sanitize_utf8(user_controlled->delegated_at)},
            {"cgroup", sanitize_utf8(user_controlled->cgroup)},
            {"unit", sanitize_utf8(labels.unit)},
            {"slice", sanitize_utf8(labels.slice)},
        };
        add_container_fields(u, labels.container_runtime, labels.container_id, labels.pod_uid);
        // A container started in a user's own subtree is rootless: its name, image and id are
        // whatever that user chose.
        if (!labels.container_id.empty()) u["rootless"] = true;
        j["user_controlled"] = std::move(u);
    }
    return j;
}

IdentityResolver::IdentityResolver(IdentitySources sources)
    : sources_(std::move(sources)),
      processes_(sources_.proc_root),
      cgroups_(sources_.cgroup_root),
      containers_(with_system_uid(sources_.containers, sources_.system_uid)) {}

IdentityResolver::IdentityResolver(IdentitySources sources, UserDirectory::Lookup user_lookup)
    : sources_(std::move(sources)),
      processes_(sources_.proc_root),
      cgroups_(sources_.cgroup_root),
      containers_(with_system_uid(sources_.containers, sources_.system_uid)),
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
        id.exe_trusted = proc->exe_trusted;
        id.cmdline = proc->cmdline;
        if (!proc->uid_map.empty()) id.namespace_uid = uid_inside(proc->uid_map, uid);
    }
    // The kernel's comm is the connecting thread's name at connect time, which is what the
    // operator saw; /proc's is only the fallback when the record had none.
    id.comm = !kernel_comm.empty() ? std::string(kernel_comm) : (proc ? proc->comm : "");

    if (std::optional<CgroupFacts> facts = cgroup_facts(cgroup_id, proc)) {
        CgroupAttribution& system = facts->attribution.system;
        id.cgroup = std::move(facts->boundary.system_path);
        id.unit = std::move(system.unit);
        id.slice = std::move(system.slice);
        id.container_runtime = std::move(system.container_runtime);
        id.container_id = std::move(system.container_id);
        id.pod_uid = std::move(system.pod_uid);
        // Names only for a container of the system's part: a rootless runtime's records are
        // its user's to write.
        if (!id.container_id.empty()) {
            if (std::optional<ContainerRecord> record =
                    containers_.find(id.container_runtime, id.container_id)) {
                id.container_name = std::move(record->name);
                id.container_image = std::move(record->image);
                id.pod_name = std::move(record->pod_name);
                id.pod_namespace = std::move(record->pod_namespace);
            }
        }
        if (facts->boundary.delegated && !facts->boundary.user_path.empty()) {
            id.user_controlled = UserControlledCgroup{
                facts->boundary.owner_uid, id.cgroup, std::move(facts->boundary.user_path),
                std::move(facts->attribution.user_controlled)};
        }
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
    CgroupTrustBoundary boundary =
        read_trust_boundary(sources_.cgroup_root, *path, sources_.system_uid);
    SplitCgroupAttribution attribution = attribute_cgroup_path(*path, boundary.trusted_components);
    CgroupFacts facts{std::move(boundary), std::move(attribution)};
    std::lock_guard lock(cgroup_facts_mu_);
    cgroup_facts_.put(cgroup_id, facts);
    return facts;
}

}  // namespace sluice
