#include "policy/prompt_patterns.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

#include "policy/regex_prefilter.h"

namespace sluice {

namespace {

RE2::Options pattern_options() {
    RE2::Options options;
    options.set_log_errors(false);
    // Prompts can be long and the set holds many patterns; RE2 falls back to slower matching
    // rather than failing when the DFA outgrows this, so it bounds memory, not correctness.
    options.set_max_mem(64 << 20);
    return options;
}

}  // namespace

struct PromptPatternSet::Impl {
    Impl() : set(pattern_options(), RE2::UNANCHORED) {}
    RE2::Set set;
    std::unique_ptr<const RegexPrefilter> prefilter;  // null: RE2 reads every text
};

PromptPatternSet::PromptPatternSet() : impl_(std::make_unique<Impl>()) {}
PromptPatternSet::~PromptPatternSet() = default;

std::optional<std::string> regex_error(std::string_view regex) {
    RE2 compiled(re2::StringPiece(regex.data(), regex.size()), pattern_options());
    if (compiled.ok()) return std::nullopt;
    return compiled.error();
}

std::shared_ptr<const PromptPatternSet> PromptPatternSet::compile(std::vector<Pattern> patterns,
                                                                  std::string& error) {
    std::shared_ptr<PromptPatternSet> result(new PromptPatternSet());
    for (const auto& pattern : patterns) {
        if (auto bad = regex_error(pattern.regex)) {
            error = "bad pattern " + pattern.name + " '" + pattern.regex + "': " + *bad;
            return nullptr;
        }
        std::string add_error;
        if (result->impl_->set.Add(pattern.regex, &add_error) < 0) {
            error = "bad pattern " + pattern.name + " '" + pattern.regex + "': " + add_error;
            return nullptr;
        }
    }
    if (!patterns.empty() && !result->impl_->set.Compile()) {
        error = "prompt patterns exceed the regex memory limit";
        return nullptr;
    }
    std::vector<std::string> regexes;
    for (const auto& pattern : patterns) regexes.push_back(pattern.regex);
    result->impl_->prefilter = RegexPrefilter::compile(regexes);
    result->patterns_ = std::move(patterns);
    return result;
}

std::optional<std::string> PromptPatternSet::first_match(
    const std::vector<std::string>& texts) const {
    if (patterns_.empty()) return std::nullopt;
    std::vector<int> hits;
    int best = -1;
    for (const auto& text : texts) {
        if (impl_->prefilter && !impl_->prefilter->may_match(text)) continue;
        hits.clear();
        if (!impl_->set.Match(text, &hits)) continue;
        int first = *std::min_element(hits.begin(), hits.end());
        if (best < 0 || first < best) best = first;
    }
    if (best < 0) return std::nullopt;
    return patterns_[static_cast<size_t>(best)].name;
}

}  // namespace sluice
