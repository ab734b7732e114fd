#include "agent/gate/policy_identity.h"

namespace sluice {

PolicyIdentity to_policy_identity(const Identity& identity) {
    PolicyIdentity out;
    out.uid = identity.uid;
    out.user = identity.user;
    out.groups = identity.groups;
    out.cgroup = identity.cgroup;
    out.unit = identity.unit;
    out.container_id = identity.container_id;
    out.exe = identity.exe;
    return out;
}

}  // namespace sluice
