// `sluicectl policy check` warnings: rules that load but cannot do what they seem to. Pure: the
// host-dependent half (which directories on this machine a user may write) is the agent's.
#pragma once

#include <string>
#include <vector>

#include "policy/policy_model.h"

namespace sluice {

// One line per finding, "SOURCE:LINE: rule 'NAME': ...":
//  - a system key (cgroups, units, slices) whose glob can only ever match names made inside
//    a user's delegated subtree (below user@UID.service, or systemd's user-manager names such
//    as app-*.scope and app.slice): such names are the user's, and system keys never match
//    them;
//  - an exes glob that reaches places users can write (a leading wildcard, /tmp, /home, ...):
//    a user's copy of a binary there is not root's alone and never matches exes;
//  - `record: full` on a rule that masks nothing: its prompts are recorded as sent.
std::vector<std::string> lint_policy(const Policy& policy);

// Directories every user may write on a typical host (world-writable or users' own).
inline constexpr const char* kUserWritablePlaces[] = {"/tmp/",  "/var/tmp/",  "/dev/shm/",
                                                      "/home/", "/run/user/", "/var/lib/docker/"};

}  // namespace sluice
