// Reading a policy file from disk: the file's text plus the system time-zone database, handed to
// the pure loader in policy/. Shared by sluiced (start-up and reload) and `sluicectl policy`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/policy_loader.h"

namespace sluice {

// Loads and validates `path`; on failure `error` is one line naming file, line and key (or the
// file itself when it cannot be read).
PolicyLoadResult load_policy_file(const std::string& path);

// The TZif bytes of an IANA zone from /usr/share/zoneinfo; nullopt for unknown zones and for
// names that could reach outside the database ("..", a leading '/').
std::optional<std::string> read_zoneinfo(std::string_view zone);

}  // namespace sluice
