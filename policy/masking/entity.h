// What the masker recognizes: built-in entity types, custom patterns from the policy, and the
// names they go by in policy YAML ("credit_card"), placeholders ("CREDIT_CARD") and audit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::masking {

enum class Entity : uint8_t {
    email,
    phone,
    credit_card,
    iban,
    us_ssn,
    ipv4,
    ipv6,
    openai_key,
    aws_access_key,
    aws_secret_key,
    github_token,
    slack_token,
    jwt,
    private_key,
};
inline constexpr std::size_t kBuiltinEntityCount = 14;

// Entities are numbered: built-ins first (their enum value), then the custom patterns of a
// recognizer set in declaration order. 64 fit in one EntitySet.
using EntityId = uint16_t;
inline constexpr std::size_t kMaxEntities = 64;
inline constexpr std::size_t kMaxCustomPatterns = kMaxEntities - kBuiltinEntityCount;

constexpr EntityId id_of(Entity e) { return static_cast<EntityId>(e); }

class EntitySet {
public:
    void add(EntityId id) { bits_ |= uint64_t{1} << id; }
    bool contains(EntityId id) const { return id < kMaxEntities && (bits_ >> id) & 1u; }
    bool empty() const { return bits_ == 0; }
    uint64_t bits() const { return bits_; }
    EntitySet& operator|=(EntitySet other) {
        bits_ |= other.bits_;
        return *this;
    }
    bool operator==(const EntitySet&) const = default;

private:
    uint64_t bits_ = 0;
};

// Secrets outrank custom patterns, which outrank generic PII, when spans overlap.
enum class Tier : uint8_t { secret = 0, custom = 1, pii = 2 };

std::string_view config_name(Entity e);  // "credit_card"
std::string_view label(Entity e);        // "CREDIT_CARD"
Tier tier(Entity e);
std::optional<Entity> parse_entity(std::string_view config_name);

}  // namespace sluice::masking
