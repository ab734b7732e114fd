#include "policy/literal_prefilter.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>

namespace sluice {

LiteralPrefilter::LiteralPrefilter() : filter_(std::make_unique<re2::FilteredRE2>()) {}
LiteralPrefilter::~LiteralPrefilter() = default;

std::unique_ptr<LiteralPrefilter> LiteralPrefilter::build(const std::vector<std::string>& regexes,
                                                          const re2::RE2::Options& options) {
    if (regexes.empty()) return nullptr;
    std::unique_ptr<LiteralPrefilter> prefilter(new LiteralPrefilter());
    for (const auto& regex : regexes) {
        int id = 0;
        if (prefilter->filter_->Add(regex, options, &id) != re2::RE2::NoError) return nullptr;
    }
    prefilter->filter_->Compile(&prefilter->atoms_);
    const bool ascii = std::all_of(
        prefilter->atoms_.begin(), prefilter->atoms_.end(), [](const std::string& atom) {
            return std::all_of(atom.begin(), atom.end(),
                               [](char c) { return static_cast<unsigned char>(c) < 0x80; });
        });
    return ascii ? std::move(prefilter) : nullptr;
}

bool LiteralPrefilter::possible(std::string_view text, FunctionRef<bool(int)> wanted) const {
    thread_local std::string lower;
    lower.assign(text);
    for (char& c : lower) {
        if (static_cast<unsigned char>(c) >= 0x80) return true;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    thread_local std::vector<int> present, potential;
    present.clear();
    for (std::size_t i = 0; i < atoms_.size(); ++i)
        if (::memmem(lower.data(), lower.size(), atoms_[i].data(), atoms_[i].size()))
            present.push_back(static_cast<int>(i));
    filter_->AllPotentials(present, &potential);
    return std::any_of(potential.begin(), potential.end(),
                       [&](int index) { return wanted(index); });
}

}  // namespace sluice
