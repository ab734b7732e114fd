// `sluicectl sessions list|show|replay|export|resend` (docs/recording.md). The CLI reads the
// recordings directly: the directory is 0700 and its files 0600, owned by sluiced's user, so
// only root (and that user) can run these; anyone else is told so, and no user can read
// another user's recordings through them.
#pragma once

#include <string>
#include <vector>

namespace sluice {

// `dir`: state_dir/recordings; `key_file`: recording.key_file ("" none). Returns the exit code.
int run_sessions_command(const std::string& dir, const std::string& key_file,
                         const std::vector<std::string>& args);

}  // namespace sluice
