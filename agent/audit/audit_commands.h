// `sluicectl audit verify` and `sluicectl audit pubkey` (docs/audit.md).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "agent/audit/audit_verify.h"

namespace sluice {

// args: [FILE…] [--pubkey FILE]. No FILE: `audit_path` and its rotated files. No --pubkey:
// `default_pubkey` when it is readable, else checkpoints are not signature-checked (said so).
// Prints the report; returns its exit code (0 intact, 1 tampered, 3 unsealed tail, 2 usage).
// `also`: a further check of the same files (the recordings their lines name), which prints its
// own report and returns 1 when it finds tampering.
using AuditAlsoCheck = std::function<int(const std::vector<AuditFileText>& files)>;
int run_audit_verify(const std::vector<std::string>& args, const std::string& audit_path,
                     const std::string& default_pubkey, const AuditAlsoCheck& also = {});

// Prints the public key (PEM) that verifies this host's checkpoints.
int run_audit_pubkey(const std::string& state_dir);

}  // namespace sluice
