// The masking part of the policy YAML, parsed and compiled at load:
//
//   masking_patterns:                 # top level: custom entities (RE2)
//     employee_id: 'EMP-\d{6}'
//     ticket: {regex: 'TICKET-[0-9]+', max_length: 32}
//   rules:
//     - name: ...
//       masking:                      # rule level: a list, first entry naming an entity wins
//         - entities: [email, phone, employee_id]   # or groups: pii, secrets, all
//           direction: both           # request | response | both (default)
//           action: token             # redact (default) | partial | hash | token
//
// Errors are thrown as MaskingConfigError naming the YAML node, key path and problem; the
// policy loader turns them into its one-line "file:line: path: message".
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/masking/masking_control.h"
#include "policy/masking/recognizers.h"

namespace sluice::masking {

struct MaskingConfigError : std::runtime_error {
    MaskingConfigError(YAML::Node at, std::string path, const std::string& message)
        : std::runtime_error(message), node(std::move(at)), key_path(std::move(path)) {}
    YAML::Node node;
    std::string key_path;
};

// `masking_patterns` (a map name -> regex | {regex, max_length}); each regex checked by RE2.
std::vector<CustomPattern> parse_masking_patterns(const YAML::Node& node, const std::string& path);

// A rule's `masking` list, compiled against the custom patterns it names.
std::shared_ptr<const MaskingControl> parse_masking(const YAML::Node& node, const std::string& path,
                                                    const std::vector<CustomPattern>& patterns);

}  // namespace sluice::masking
