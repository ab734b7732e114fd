// A fast "could any of these RE2 patterns match this text?" in front of an RE2::Set.
//
// RE2's set DFA runs at ~3 ns per byte with a fixed cost per call, and every request runs the
// blocked-prompt sets and the custom masking patterns over each of its texts (docs/benchmarks.md,
// "Prefiltering the RE2 sets"). Hyperscan compiles the same patterns in prefilter mode, which
// reports a superset of the matches, and scans at literal speed; RE2 then runs only on a text
// Hyperscan says may match, so it still decides every match, its span and which pattern.
//
// A prefilter must never say "no" where RE2 would match (a blocked prompt or a custom entity
// would pass), so each pattern is compiled for a superset of what RE2 reads it as: UTF-8 code
// points (`.` and classes), `.` also matching a newline and `^`/`$` at every line, patterns that
// may match empty allowed; \w, \d, \s and \b stay ASCII as in RE2. A pattern Hyperscan cannot
// take (RE2-only syntax such as `(?U)` or `\C`), text that is not valid UTF-8 (Hyperscan's
// UTF-8 mode is undefined there) and a scan that fails all answer "may match".
// tests/unit/policy/regex_prefilter_test.cpp holds the superset property to generated patterns
// and texts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct hs_database;

namespace sluice {

class RegexPrefilter {
public:
    // nullptr when Hyperscan cannot take every pattern: the caller then runs RE2 on every text.
    static std::unique_ptr<const RegexPrefilter> compile(const std::vector<std::string>& regexes);

    // False only when no pattern can match `text`.
    bool may_match(std::string_view text) const;

    ~RegexPrefilter();
    RegexPrefilter(const RegexPrefilter&) = delete;
    RegexPrefilter& operator=(const RegexPrefilter&) = delete;

private:
    RegexPrefilter(hs_database* database, uint64_t id) : database_(database), id_(id) {}
    hs_database* database_;
    uint64_t id_;  // names this database to the per-thread scratch and clean-text memo
};

}  // namespace sluice
