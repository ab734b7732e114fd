#include "policy/text_splice.h"

#include <algorithm>

namespace sluice {

std::string apply_splices(std::string_view text, std::vector<TextSplice>& splices,
                          std::size_t offset) {
    std::stable_sort(splices.begin(), splices.end(),
                     [](const TextSplice& a, const TextSplice& b) { return a.begin < b.begin; });
    std::string out;
    out.reserve(text.size() + 64);
    std::size_t copied = 0;
    for (const TextSplice& splice : splices) {
        out.append(text.substr(copied, offset + splice.begin - copied));
        out.append(splice.replacement);
        copied = offset + splice.end;
    }
    out.append(text.substr(copied));
    return out;
}

}  // namespace sluice
