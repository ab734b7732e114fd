// A rule's masking control, compiled at policy load: which entities to look for in which
// direction and what to do with each. Immutable and shared by every request the rule decides.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "policy/masking/entity.h"
#include "policy/masking/recognizers.h"

namespace sluice::masking {

enum class Direction : uint8_t { request = 0, response = 1 };

enum class MaskAction : uint8_t {
    redact,   // "[EMAIL]"
    partial,  // "****1234": at most the last four characters, never more than half the value
    hash,     // "[EMAIL:3f9a1c2b]": HMAC-SHA256 with the host's key, stable per value
    token,    // "<EMAIL_1>" upstream, restored to the value in the answer to the client
};

struct MaskingRule {
    EntitySet entities;
    bool request = true;
    bool response = true;
    MaskAction action = MaskAction::redact;
};

class MaskingControl {
public:
    // The first rule naming an entity for a direction decides its action there. A `token`
    // rule masks requests only; on responses it restores its placeholders instead (masking
    // them again would take back what the client is meant to get).
    MaskingControl(std::shared_ptr<const RecognizerSet> recognizers,
                   std::vector<MaskingRule> rules);

    const RecognizerSet& recognizers() const { return *recognizers_; }
    const std::vector<MaskingRule>& rules() const { return rules_; }
    EntitySet enabled(Direction d) const { return enabled_[static_cast<int>(d)]; }
    std::optional<MaskAction> action(EntityId id, Direction d) const;
    bool restores_tokens() const { return restores_tokens_; }

private:
    std::shared_ptr<const RecognizerSet> recognizers_;
    std::vector<MaskingRule> rules_;
    std::array<EntitySet, 2> enabled_{};
    std::array<std::array<int8_t, kMaxEntities>, 2> actions_{};  // -1: not masked
    bool restores_tokens_ = false;
};

}  // namespace sluice::masking
