// Controls the masking fuzz targets run with: every recognizer, each action in turn.
#pragma once

#include <yaml-cpp/yaml.h>

#include "policy/masking/masking_config.h"

namespace sluice::fuzz {

inline std::shared_ptr<const masking::MaskingControl> fuzz_control(unsigned selector) {
    static const std::shared_ptr<const masking::MaskingControl> kControls[] = {
        masking::parse_masking(
            YAML::Load("[{entities: [all, ticket], action: redact}]"), "m",
            masking::parse_masking_patterns(YAML::Load("{ticket: 'T-[0-9]+'}"), "p")),
        masking::parse_masking(YAML::Load("[{entities: [all], action: token}]"), "m", {}),
        masking::parse_masking(
            YAML::Load("[{entities: [pii], action: partial}, {entities: [secrets], action: hash}]"),
            "m", {}),
    };
    return kControls[selector % 3];
}

}  // namespace sluice::fuzz
