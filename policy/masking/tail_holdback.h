// How much of a stream's tail must wait: for each built-in entity, the earliest offset from
// which the end of the text is still a possible beginning (or unfinished middle) of a match.
// Each rule follows from the entity's character set, maximum length and boundary rule, so what
// is released can never become part of a match later (tests feed every split position).
#pragma once

#include <cstddef>
#include <string_view>

#include "policy/masking/entity.h"

namespace sluice::masking {

// Minimum over the enabled built-ins; text.size() when nothing needs holding. Never < from.
std::size_t builtin_hold_from(std::string_view text, EntitySet enabled, std::size_t from);

}  // namespace sluice::masking
