#include "agent/identity/policy_identity.h"

namespace sluice {

PolicyIdentity to_policy_identity(const Identity& identity) {
    PolicyIdentity out;
    out.uid = identity.uid;
    out.user = identity.user;
    out.groups = identity.groups;
    out.cgroup = identity.cgroup;
    out.unit = identity.unit;
    out.slice = identity.slice;
    out.container_id = identity.container_id;
    out.pod_uid = identity.pod_uid;
    // Runtime, name and image come with the system's container only (identity.h), so a
    // rootless container never fills these.
    if (!identity.container_id.empty()) out.container_runtime = identity.container_runtime;
    out.container_name = identity.container_name;
    out.container_image = identity.container_image;
    out.exe = identity.exe;
    out.exe_trusted = identity.exe_trusted;
    if (identity.user_controlled) {
        const UserControlledCgroup& from = *identity.user_controlled;
        out.user_controlled = UserControlledNames{from.owner_uid,           from.cgroup,
                                                  from.labels.unit,         from.labels.slice,
                                                  from.labels.container_id, from.labels.pod_uid};
    }
    return out;
}

}  // namespace sluice
