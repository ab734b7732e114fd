#include "policy/regex_prefilter.h"

#include <hs/hs.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "policy/clean_text_memo.h"
#include "policy/masking/char_class.h"

namespace sluice {

namespace {

constexpr unsigned kSupersetFlags = HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY |
                                    HS_FLAG_UTF8 | HS_FLAG_DOTALL | HS_FLAG_MULTILINE;

// One scratch per thread, grown to fit each database it has scanned (scratch may not be shared
// between threads). Databases are named by id: a reloaded policy's may reuse an address.
struct ThreadScratch {
    hs_scratch_t* scratch = nullptr;
    std::vector<uint64_t> fitted;
    ~ThreadScratch() {
        if (scratch) hs_free_scratch(scratch);
    }
};

hs_scratch_t* thread_scratch(const hs_database_t* database, uint64_t id) {
    constexpr std::size_t kRememberedDatabases = 64;
    thread_local ThreadScratch local;
    if (std::find(local.fitted.begin(), local.fitted.end(), id) != local.fitted.end())
        return local.scratch;
    if (hs_alloc_scratch(database, &local.scratch) != HS_SUCCESS) return nullptr;
    if (local.fitted.size() >= kRememberedDatabases) local.fitted.clear();
    local.fitted.push_back(id);
    return local.scratch;
}

// RE2 folds case with Unicode's orbits, so under (?i) an ASCII class such as \w or [a-z] also
// takes U+017F (long s, folds to s) and U+212A (Kelvin sign, folds to k); Hyperscan's classes do
// not. They are the only non-ASCII letters that fold into ASCII: text holding one is left to RE2.
bool has_letter_folding_into_ascii(std::string_view text) {
    return text.find("\xC5\xBF") != std::string_view::npos ||
           text.find("\xE2\x84\xAA") != std::string_view::npos;
}

// RE2 reads UTF-8 a byte at a time, so a zero-width assertion can hold between the bytes of one
// code point (`\\B` inside "σ"), where Hyperscan never looks. A match that consumes text starts
// and ends on code points, where the two agree; a pattern that can match empty is left to RE2.
bool can_match_empty(const std::string& regex) {
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_expression_info(regex.c_str(), kSupersetFlags, &info, &error) != HS_SUCCESS) {
        hs_free_compile_error(error);
        return true;
    }
    const bool empty = info->min_width == 0;
    std::free(info);
    return empty;
}

int stop_at_first(unsigned, unsigned long long, unsigned long long, unsigned, void* found) {
    *static_cast<bool*>(found) = true;
    return 1;  // any match answers the question
}

}  // namespace

std::unique_ptr<const RegexPrefilter> RegexPrefilter::compile(
    const std::vector<std::string>& regexes) {
    if (regexes.empty()) return nullptr;
    std::vector<const char*> expressions;
    std::vector<unsigned> flags(regexes.size(), kSupersetFlags);
    std::vector<unsigned> ids;
    for (std::size_t i = 0; i < regexes.size(); ++i) {
        // A NUL inside a pattern would cut it short in Hyperscan's C string: refuse to filter.
        if (regexes[i].find('\0') != std::string::npos || can_match_empty(regexes[i]))
            return nullptr;
        expressions.push_back(regexes[i].c_str());
        ids.push_back(static_cast<unsigned>(i));
    }
    hs_database_t* database = nullptr;
    hs_compile_error_t* error = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr,
                         &database, &error) != HS_SUCCESS) {
        hs_free_compile_error(error);
        return nullptr;
    }
    return std::unique_ptr<const RegexPrefilter>(
        new RegexPrefilter(database, CleanTextMemo::new_engine_id()));
}

RegexPrefilter::~RegexPrefilter() { hs_free_database(database_); }

bool RegexPrefilter::may_match(std::string_view text) const {
    thread_local CleanTextMemo clean;
    if (clean.known_clean(id_, 0, text)) return false;
    if (text.size() > UINT32_MAX || !masking::valid_utf8(text.data(), text.size()) ||
        has_letter_folding_into_ascii(text))
        return true;
    hs_scratch_t* scratch = thread_scratch(database_, id_);
    if (!scratch) return true;
    bool found = false;
    const hs_error_t scanned = hs_scan(database_, text.data(), static_cast<unsigned>(text.size()),
                                       0, scratch, stop_at_first, &found);
    if (scanned != HS_SUCCESS && scanned != HS_SCAN_TERMINATED) return true;
    if (!found) clean.remember_clean(id_, 0, text);
    return found;
}

}  // namespace sluice
