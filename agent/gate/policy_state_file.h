// Budgets survive a restart: PolicyState's accounts are saved to <state_dir>/policy-state.json
// (written to a temporary file and renamed, 0600) every few seconds and at shutdown, and
// restored at start-up.
#pragma once

#include <string>

#include "policy/policy_state.h"

namespace sluice {

class PolicyStateFile {
public:
    explicit PolicyStateFile(const std::string& state_dir);

    // Restores `state` from the file; returns a one-line outcome for the log. A missing file is
    // a fresh start; an unreadable or malformed one is reported and left in place (renamed
    // *.corrupt) so an operator can look, and budgets start from zero.
    std::string restore(PolicyState& state) const;
    // Writes the state if it changed since the last save; returns "" or an error line.
    std::string save(const PolicyState& state);

    const std::string& path() const { return path_; }

private:
    const std::string path_;
    std::string last_saved_;
};

}  // namespace sluice
