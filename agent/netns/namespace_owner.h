// Who answers for a network namespace: the host user that made the user namespace it belongs to.
// Any user may create network namespaces (inside a user namespace of their own, as rootless
// podman and `unshare -rn` do), and sluiced opens listeners in each; a per-user limit on served
// namespaces needs to know whose each one is (docs/architecture.md, "Containers").
#pragma once

#include <sys/types.h>

#include <optional>

namespace sluice {

// The uid, in the host's user namespace, that created the outermost user namespace below the
// host's owning the network namespace `netns_fd` (nested user namespaces answer to the user that
// began the nesting, so a user cannot multiply their share through subordinate uids). 0 for a
// network namespace of the host's user namespace (made with the host's privileges: system
// container runtimes). nullopt when the kernel does not say (NS_GET_USERNS/NS_GET_PARENT
// refused).
std::optional<uid_t> namespace_owner_uid(int netns_fd);

}  // namespace sluice
