// Blocked prompt patterns: RE2 (linear time), compiled once at load into one RE2::Set so a
// text is scanned once however many patterns a rule carries.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}  // namespace re2

namespace sluice {

class PromptPatternSet {
public:
    struct Pattern {
        std::string name;  // "secrets/aws_access_key", or "patterns[2]" for inline ones
        std::string regex;
    };

    // Compiles all patterns; on failure returns nullptr and sets `error` to the RE2 message of
    // the first bad one (with its name).
    static std::shared_ptr<const PromptPatternSet> compile(std::vector<Pattern> patterns,
                                                           std::string& error);

    // Name of the first pattern (in declaration order) found in any text, or nullopt.
    std::optional<std::string> first_match(const std::vector<std::string>& texts) const;

    const std::vector<Pattern>& patterns() const { return patterns_; }

    ~PromptPatternSet();
    PromptPatternSet(const PromptPatternSet&) = delete;
    PromptPatternSet& operator=(const PromptPatternSet&) = delete;

private:
    PromptPatternSet();
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::vector<Pattern> patterns_;
};

// Checks one RE2 pattern; returns the RE2 error text or nullopt.
std::optional<std::string> regex_error(std::string_view regex);

}  // namespace sluice
