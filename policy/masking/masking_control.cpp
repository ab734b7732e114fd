#include "policy/masking/masking_control.h"

namespace sluice::masking {

MaskingControl::MaskingControl(std::shared_ptr<const RecognizerSet> recognizers,
                               std::vector<MaskingRule> rules)
    : recognizers_(std::move(recognizers)), rules_(std::move(rules)) {
    for (auto& per_direction : actions_) per_direction.fill(-1);
    for (const auto& rule : rules_) {
        if (rule.action == MaskAction::token && rule.request) restores_tokens_ = true;
        for (std::size_t id = 0; id < recognizers_->entity_count(); ++id) {
            const auto entity = static_cast<EntityId>(id);
            if (!rule.entities.contains(entity)) continue;
            for (int d = 0; d < 2; ++d) {
                const bool applies = d == 0 ? rule.request : rule.response;
                if (!applies || actions_[d][id] != -1) continue;
                if (d == 1 && rule.action == MaskAction::token) {
                    actions_[d][id] = -2;  // claimed by restoration: later rules do not mask it
                    continue;
                }
                actions_[d][id] = static_cast<int8_t>(rule.action);
                enabled_[d].add(entity);
            }
        }
    }
}

std::optional<MaskAction> MaskingControl::action(EntityId id, Direction d) const {
    if (id >= kMaxEntities) return std::nullopt;
    const int8_t a = actions_[static_cast<int>(d)][id];
    if (a < 0) return std::nullopt;
    return static_cast<MaskAction>(a);
}

}  // namespace sluice::masking
