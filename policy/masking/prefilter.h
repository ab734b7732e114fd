// The Hyperscan pre-filter for the built-in recognizers: one block-mode database of literal
// triggers ("@", "sk-", "AKIA", ...), compiled once per process, scanned without start-of-match
// tracking (SOM costs ~15x in throughput; the extractors find the start themselves). Clean text
// runs at Hyperscan's literal-scan speed; each hit is handed to its trigger's confirm step,
// which checks the characters around the literal and runs the extractor.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/masking/entity.h"
#include "policy/masking/extractors.h"

namespace sluice::masking {

struct Trigger {
    const char* regex;
    unsigned flags;
    Entity entity;
    Extractor confirm;  // called with the offset just past the literal
};

struct TriggerHit {
    uint32_t trigger;  // index into builtin_triggers()
    std::size_t end;
};

const std::vector<Trigger>& builtin_triggers();

// Compiles the database on first use. Returns the Hyperscan error, if any; the loader calls it
// so a broken library refuses the policy at start rather than failing every request.
std::optional<std::string> prepare_prefilter();

// Appends the hits of every trigger in `text`, in order of end offset. False when Hyperscan
// could not run (no database, out of memory): callers fail closed.
[[nodiscard]] bool scan_triggers(std::string_view text, std::vector<TriggerHit>& hits);

}  // namespace sluice::masking
