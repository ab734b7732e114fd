// The tree-based readers the gate used before it read the body's view (tree_reference.cpp):
// the reference of the differential tests.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "agent/gate/request_body_edit.h"
#include "policy/output_bound.h"
#include "policy/request_summary.h"

namespace sluice::tree_reference {

std::vector<std::string> extract_prompt_texts(const nlohmann::json& body, std::string_view path);
int64_t estimate_attachment_tokens(const nlohmann::json& body, std::string_view path);
OutputBound read_output_bound(const nlohmann::json& body, std::string_view path);
RequestSummary summarize_request(const nlohmann::json& body);

// MemberEdit values, as the tree planned them.
void plan_output_cap(const nlohmann::json& body, std::string_view target, int64_t limit,
                     std::vector<MemberEdit>& edits);
void plan_stream_usage(const nlohmann::json& body, std::string_view target,
                       std::vector<MemberEdit>& edits);
void apply_member_edits(nlohmann::json& body, const std::vector<MemberEdit>& edits);

}  // namespace sluice::tree_reference
