// Which of a list of regexes could match a text, by the literals each one requires (RE2's
// FilteredRE2 prefilter): a text that holds none of the literals a pattern needs cannot match
// it, so the RE2::Set pass over that text can be skipped. A prompt rarely holds `AKIA`,
// `-----BEGIN` or `EMP-`, and each set pass read the whole text (docs/benchmarks.md).
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/function_ref.h"

namespace re2 {
class FilteredRE2;
}  // namespace re2

namespace sluice {

class LiteralPrefilter {
public:
    // nullptr when a pattern does not compile or a required literal is not ASCII (lower-casing
    // it here could differ from RE2's case folding): then every text must be matched.
    static std::unique_ptr<LiteralPrefilter> build(const std::vector<std::string>& regexes,
                                                   const re2::RE2::Options& options);
    ~LiteralPrefilter();

    // Whether some pattern `wanted(index)` could match `text`. A text with non-ASCII
    // characters always could: RE2's case folding matches some to ASCII letters (the Kelvin
    // sign to k), which this check's ASCII lower-casing would not find.
    bool possible(std::string_view text, FunctionRef<bool(int index)> wanted) const;

private:
    LiteralPrefilter();

    std::unique_ptr<re2::FilteredRE2> filter_;
    std::vector<std::string> atoms_;  // lower-case
};

}  // namespace sluice
