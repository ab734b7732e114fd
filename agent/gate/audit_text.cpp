#include "agent/gate/audit_text.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <vector>

#include "agent/common/sha256_hex.h"
#include "policy/masking/masking_config.h"
#include "policy/masking/masking_control.h"
#include "policy/masking/request_masker.h"
#include "policy/masking/text_masker.h"
#include "policy/text_fold.h"

namespace sluice {

namespace {

// Redacts with `control`'s request entities; false if a scan engine failed.
bool redact_with(const masking::MaskingControl& control, std::string& text) {
    thread_local masking::TokenVault vault;
    thread_local masking::MaskStats stats;
    masking::TextMasker masker(control, "audit", vault, stats);
    return masking::mask_text_folded(text, masking::Direction::request, masker);
}

std::string sha256_prefix(std::string_view text) { return sha256_hex(text, 8); }

std::optional<std::string> blocked_pattern(const Policy& policy,
                                           const std::vector<std::string>& views) {
    if (policy.block_prompts)
        if (auto hit = policy.block_prompts->patterns->first_match(views)) return hit;
    for (const auto& rule : policy.rules)
        if (rule.block_prompts)
            if (auto hit = rule.block_prompts->patterns->first_match(views)) return hit;
    return std::nullopt;
}

}  // namespace

std::string audit_safe_text(const Policy* policy, std::string_view original) {
    static const auto kEverything =
        masking::parse_masking(YAML::Load("[{entities: [all], action: redact}]"), "audit", {});
    std::string text(original);
    if (!redact_with(*kEverything, text)) return "[withheld: masking failed]";
    if (!policy) return text;
    for (const auto& rule : policy->rules)
        if (rule.masking && !redact_with(*rule.masking, text)) return "[withheld: masking failed]";
    std::vector<std::string> views{text};
    FoldedText folded;
    if (fold_for_matching(text, folded)) views.push_back(std::move(folded.text));
    const auto hit = blocked_pattern(*policy, views);
    if (!hit) return text;
    const std::string program = text.substr(0, text.find(' '));
    std::string out =
        program.size() <= 256 && !blocked_pattern(*policy, {program}) ? program + " " : "";
    return out + "[withheld: matches blocked pattern " + *hit + "; sha256 " +
           sha256_prefix(original) + "]";
}

std::string audit_safe_model(const std::shared_ptr<const Policy>& policy, std::string_view model) {
    struct Remembered {
        std::shared_ptr<const Policy> policy;  // held, so its address names only it
        std::string model, safe;
    };
    thread_local std::array<Remembered, 4> remembered;
    thread_local std::size_t next = 0;
    for (const Remembered& entry : remembered)
        if (entry.policy == policy && entry.policy && entry.model == model) return entry.safe;
    Remembered& entry = remembered[next++ % remembered.size()];
    entry = {policy, std::string(model), audit_safe_text(policy.get(), model)};
    return entry.safe;
}

}  // namespace sluice
