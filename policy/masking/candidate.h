// A recognized span of text, before and after overlap resolution.
#pragma once

#include <cstddef>
#include <vector>

#include "policy/masking/entity.h"

namespace sluice::masking {

struct Span {
    std::size_t begin = 0;
    std::size_t end = 0;  // exclusive
    EntityId entity = 0;
    bool operator==(const Span&) const = default;
};

using Spans = std::vector<Span>;

}  // namespace sluice::masking
