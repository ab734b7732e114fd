// `sluicectl audit verify`: walks the hash chain and the signed checkpoints of one or more audit
// files (a rotation sequence, in any order) and names the first bad record. Pure: the caller
// reads the files; this sees their bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/audit/audit_signer.h"

namespace sluice {

enum class AuditFault {
    edited,        // a line's bytes changed (its hash no longer matches the next line's "prev")
    deleted,       // one or more lines are missing inside a file
    reordered,     // lines are out of order
    missing_file,  // a whole file of the rotation sequence is missing
    forged_checkpoint,  // a checkpoint whose signature the public key does not verify
    malformed,          // a line without chain members that no recovery record accounts for
};
std::string_view to_string(AuditFault fault);

struct AuditProblem {
    AuditFault fault;
    std::string file;
    uint64_t line = 0;  // 1-based, in `file`
    std::optional<uint64_t> seq;
    std::string detail;
};

// A restart after sluiced stopped without sealing the chain (kill -9, power cut).
struct AuditCrash {
    std::string file;
    uint64_t line = 0;  // the audit_recovery record
    uint64_t seq = 0;
    uint64_t partial_bytes = 0;  // a line the crash cut, sealed by that record
};

struct AuditVerifyReport {
    uint64_t files = 0;
    uint64_t bytes = 0;
    uint64_t lines = 0;
    uint64_t checkpoints = 0;
    bool signatures_checked = false;  // a public key was given
    std::optional<uint64_t> first_seq, last_seq;
    std::vector<AuditCrash> crashes;
    // Records after the last checkpoint, and a partial last line: not signed, so a cut there
    // cannot be told from a crash or a running writer. Not tampering.
    uint64_t unsealed_records = 0;
    uint64_t unsealed_partial_bytes = 0;
    std::string last_checkpoint_reason;   // "" when there is none
    std::optional<AuditProblem> problem;  // the first bad record

    // 0 intact and sealed, 1 tampered (problem), 3 intact but with an unsealed tail.
    int exit_code() const;
};

struct AuditFileText {
    std::string name;
    std::string_view text;
};

// `key` null: chain only, checkpoint signatures are not checked (and the report says so).
AuditVerifyReport verify_audit(std::vector<AuditFileText> files, const AuditVerifyKey* key);

// The report as lines for a terminal: a summary, crashes, the unsealed tail, the problem.
std::string describe(const AuditVerifyReport& report);

}  // namespace sluice
