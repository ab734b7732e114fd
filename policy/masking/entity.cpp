#include "policy/masking/entity.h"

#include <array>

namespace sluice::masking {

namespace {

struct EntityInfo {
    std::string_view name;
    std::string_view label;
    Tier tier;
};

constexpr std::array<EntityInfo, kBuiltinEntityCount> kEntities{{
    {"email", "EMAIL", Tier::pii},
    {"phone", "PHONE", Tier::pii},
    {"credit_card", "CREDIT_CARD", Tier::pii},
    {"iban", "IBAN", Tier::pii},
    {"us_ssn", "US_SSN", Tier::pii},
    {"ipv4", "IPV4", Tier::pii},
    {"ipv6", "IPV6", Tier::pii},
    {"openai_key", "OPENAI_KEY", Tier::secret},
    {"aws_access_key", "AWS_ACCESS_KEY", Tier::secret},
    {"aws_secret_key", "AWS_SECRET_KEY", Tier::secret},
    {"github_token", "GITHUB_TOKEN", Tier::secret},
    {"slack_token", "SLACK_TOKEN", Tier::secret},
    {"jwt", "JWT", Tier::secret},
    {"private_key", "PRIVATE_KEY", Tier::secret},
}};

}  // namespace

std::string_view config_name(Entity e) { return kEntities[static_cast<std::size_t>(e)].name; }
std::string_view label(Entity e) { return kEntities[static_cast<std::size_t>(e)].label; }
Tier tier(Entity e) { return kEntities[static_cast<std::size_t>(e)].tier; }

std::optional<Entity> parse_entity(std::string_view name) {
    for (std::size_t i = 0; i < kEntities.size(); ++i)
        if (kEntities[i].name == name) return static_cast<Entity>(i);
    return std::nullopt;
}

}  // namespace sluice::masking
