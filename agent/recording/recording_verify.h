// `sluicectl audit verify`'s check of recordings: every audit line naming a recording
// ("recording":{…"sha256":…}) is matched against its entry in the segments, decrypted,
// decompressed and hashed again (docs/recording.md). A recording that does not match its line
// is tampering; one that is gone may have been removed by retention, so it is counted apart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/audit/audit_verify.h"
#include "agent/recording/recording_store.h"

namespace sluice {

struct RecordingProblem {
    std::string file;  // the audit file
    uint64_t line = 0;
    std::string sha256;
    std::string detail;
};

struct RecordingCheckReport {
    uint64_t named = 0;    // audit lines naming a recording
    uint64_t matched = 0;  // recordings whose content matches
    uint64_t missing = 0;  // files not found (retention, or deleted)
    std::vector<RecordingProblem> bad;
};

RecordingCheckReport check_recordings(const std::vector<AuditFileText>& files,
                                      const RecordingStore& store);
// Lines for a terminal; `exit`: 1 when a recording does not match, else 0.
std::string describe(const RecordingCheckReport& report, int& exit);

}  // namespace sluice
