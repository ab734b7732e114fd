// `sluicectl audit verify` and `sluicectl audit pubkey` (docs/audit.md).
#pragma once

#include <string>
#include <vector>

namespace sluice {

// args: [FILE…] [--pubkey FILE]. No FILE: `audit_path` and its rotated files. No --pubkey:
// `default_pubkey` when it is readable, else checkpoints are not signature-checked (said so).
// Prints the report; returns its exit code (0 intact, 1 tampered, 3 unsealed tail, 2 usage).
int run_audit_verify(const std::vector<std::string>& args, const std::string& audit_path,
                     const std::string& default_pubkey);

// Prints the public key (PEM) that verifies this host's checkpoints.
int run_audit_pubkey(const std::string& state_dir);

}  // namespace sluice
