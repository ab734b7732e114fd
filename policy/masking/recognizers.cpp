#include "policy/masking/recognizers.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <array>
#include <cstdint>

#include "policy/clean_text_memo.h"
#include "policy/masking/extractors.h"
#include "policy/masking/prefilter.h"
#include "policy/masking/simd_scanner.h"
#include "policy/masking/tail_holdback.h"
#include "policy/regex_prefilter.h"

namespace sluice::masking {

struct RecognizerSet::Engines {
    std::unique_ptr<re2::RE2::Set> set;
    std::vector<std::unique_ptr<re2::RE2>> regexes;
    std::unique_ptr<const RegexPrefilter> prefilter;  // null: RE2 reads every text
};

RecognizerSet::RecognizerSet()
    : engines_(std::make_unique<Engines>()), id_(CleanTextMemo::new_engine_id()) {}
RecognizerSet::~RecognizerSet() = default;

std::shared_ptr<const RecognizerSet> RecognizerSet::compile(std::vector<CustomPattern> custom,
                                                            std::string& error) {
    if (auto failure = prepare_prefilter()) {
        error = *failure;
        return nullptr;
    }
    if (custom.size() > kMaxCustomPatterns) {
        error = "too many masking patterns (at most " + std::to_string(kMaxCustomPatterns) + ")";
        return nullptr;
    }
    std::shared_ptr<RecognizerSet> set(new RecognizerSet());
    if (!custom.empty()) {
        re2::RE2::Options options;
        options.set_longest_match(true);
        options.set_log_errors(false);
        set->engines_->set = std::make_unique<re2::RE2::Set>(options, re2::RE2::UNANCHORED);
        for (const auto& pattern : custom) {
            auto re = std::make_unique<re2::RE2>(pattern.regex, options);
            if (!re->ok()) {
                error = "bad regex for " + pattern.name + ": " + re->error();
                return nullptr;
            }
            if (re2::RE2::FullMatch("", *re)) {
                error = "regex for " + pattern.name + " matches the empty string";
                return nullptr;
            }
            std::string set_error;
            if (set->engines_->set->Add(pattern.regex, &set_error) < 0) {
                error = "bad regex for " + pattern.name + ": " + set_error;
                return nullptr;
            }
            set->engines_->regexes.push_back(std::move(re));
        }
        if (!set->engines_->set->Compile()) {
            error = "masking patterns too large for RE2";
            return nullptr;
        }
        std::vector<std::string> regexes;
        for (const auto& pattern : custom) regexes.push_back(pattern.regex);
        set->engines_->prefilter = RegexPrefilter::compile(regexes);
    }
    for (std::size_t id = 0; id < kBuiltinEntityCount; ++id)
        set->labels_.emplace_back(masking::label(static_cast<Entity>(id)));
    for (const auto& pattern : custom) {
        std::string label = pattern.name;
        for (auto& c : label)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        set->labels_.push_back(std::move(label));
    }
    set->custom_ = std::move(custom);
    return set;
}

std::shared_ptr<const RecognizerSet> RecognizerSet::builtin() {
    static const std::shared_ptr<const RecognizerSet> kBuiltin = [] {
        std::string error;
        return compile({}, error);
    }();
    return kBuiltin;
}

std::string RecognizerSet::config_name(EntityId id) const {
    if (id < kBuiltinEntityCount) return std::string(masking::config_name(static_cast<Entity>(id)));
    return custom_.at(id - kBuiltinEntityCount).name;
}

std::optional<EntityId> RecognizerSet::find_entity(std::string_view name) const {
    if (auto e = parse_entity(name)) return id_of(*e);
    for (std::size_t i = 0; i < custom_.size(); ++i)
        if (custom_[i].name == name) return static_cast<EntityId>(kBuiltinEntityCount + i);
    return std::nullopt;
}

Tier RecognizerSet::tier_of(EntityId id) const {
    return id < kBuiltinEntityCount ? tier(static_cast<Entity>(id)) : Tier::custom;
}

bool RecognizerSet::find_custom(std::string_view text, EntitySet enabled, Spans& candidates) const {
    if (!engines_->set) return true;
    if (engines_->prefilter && !engines_->prefilter->may_match(text)) return true;
    std::vector<int> matched;
    re2::RE2::Set::ErrorInfo info{};
    if (!engines_->set->Match(text, &matched, &info)) return info.kind == re2::RE2::Set::kNoError;
    for (int index : matched) {
        const auto id = static_cast<EntityId>(kBuiltinEntityCount + index);
        if (!enabled.contains(id)) continue;
        const re2::RE2& re = *engines_->regexes[static_cast<std::size_t>(index)];
        std::size_t pos = 0;
        re2::StringPiece match;
        while (pos <= text.size() &&
               re.Match(text, pos, text.size(), re2::RE2::UNANCHORED, &match, 1)) {
            const auto begin = static_cast<std::size_t>(match.data() - text.data());
            const std::size_t end = begin + match.size();
            if (end > begin) candidates.push_back({begin, end, id});
            pos = end > begin ? end : begin + 1;
        }
    }
    return true;
}

namespace {

// Sorts candidate keys (below), which arrive as a few ascending runs per tier: each source of
// candidates (trigger hits, the SIMD scanner) finds them left to right. One counting pass
// groups the tiers (stable), then each tier's runs are merged pairwise; a tier in many runs
// gets an ordinary sort.
void sort_keys(std::vector<uint64_t>& keys) {
    constexpr std::size_t kMaxRuns = 32;
    thread_local std::vector<uint64_t> other;
    other.resize(keys.size());
    std::array<std::size_t, 5> tier_start{};
    for (uint64_t k : keys) ++tier_start[(k >> 62) + 1];
    for (std::size_t t = 1; t < tier_start.size(); ++t) tier_start[t] += tier_start[t - 1];
    std::array<std::size_t, 4> next{tier_start[0], tier_start[1], tier_start[2], tier_start[3]};
    for (uint64_t k : keys) other[next[k >> 62]++] = k;
    keys.swap(other);
    for (std::size_t t = 0; t < 4; ++t) {
        const std::size_t from = tier_start[t], to = tier_start[t + 1];
        std::array<std::size_t, kMaxRuns + 1> runs;  // run starts, then `to`
        std::size_t count = 0;
        runs[count++] = from;
        for (std::size_t i = from + 1; i < to && count <= kMaxRuns; ++i)
            if (keys[i] < keys[i - 1]) runs[count++] = i;
        if (count > kMaxRuns) {
            std::sort(keys.begin() + static_cast<std::ptrdiff_t>(from),
                      keys.begin() + static_cast<std::ptrdiff_t>(to));
            continue;
        }
        runs[count] = to;
        std::vector<uint64_t>* src = &keys;
        std::vector<uint64_t>* dst = &other;
        while (count > 1) {
            std::size_t merged = 0;
            for (std::size_t r = 0; r < count; r += 2) {
                const auto at = [](std::vector<uint64_t>& v, std::size_t i) {
                    return v.begin() + static_cast<std::ptrdiff_t>(i);
                };
                const std::size_t mid = runs[std::min(r + 1, count)];
                const std::size_t end = runs[std::min(r + 2, count)];
                std::merge(at(*src, runs[r]), at(*src, mid), at(*src, mid), at(*src, end),
                           at(*dst, runs[r]));
                runs[merged++] = runs[r];
            }
            runs[merged] = to;
            count = merged;
            std::swap(src, dst);
        }
        if (src != &keys)
            std::copy(src->begin() + static_cast<std::ptrdiff_t>(from),
                      src->begin() + static_cast<std::ptrdiff_t>(to),
                      keys.begin() + static_cast<std::ptrdiff_t>(from));
    }
}

// Orders candidates by tier, then leftmost, then longest, then entity. Each span packs into
// one integer with that order (tier 2 bits, begin 32, inverted length 24, entity 6), which
// sorts several times faster than comparing the structs; a span too long or too far in to
// pack falls back to the comparison sort.
void sort_candidates(Spans& candidates, const std::array<Tier, kMaxEntities>& tiers) {
    constexpr uint64_t kMaxLength = (uint64_t{1} << 24) - 1;
    thread_local std::vector<uint64_t> keys;
    keys.clear();
    for (const Span& s : candidates) {
        const uint64_t length = s.end - s.begin;
        if (s.begin > UINT32_MAX || length > kMaxLength) {
            std::sort(candidates.begin(), candidates.end(), [&](const Span& a, const Span& b) {
                if (tiers[a.entity] != tiers[b.entity]) return tiers[a.entity] < tiers[b.entity];
                if (a.begin != b.begin) return a.begin < b.begin;
                if (a.end != b.end) return a.end > b.end;
                return a.entity < b.entity;
            });
            return;
        }
        keys.push_back(uint64_t{static_cast<uint8_t>(tiers[s.entity])} << 62 |
                       uint64_t{s.begin} << 30 | (kMaxLength - length) << 6 | s.entity);
    }
    sort_keys(keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const uint64_t k = keys[i];
        const std::size_t begin = (k >> 30) & UINT32_MAX;
        const std::size_t length = kMaxLength - ((k >> 6) & kMaxLength);
        candidates[i] = {begin, begin + length, static_cast<EntityId>(k & 63)};
    }
}

// Greedy selection, one tier at a time; `chosen` stays sorted by begin.
void resolve(Spans& candidates, const std::array<Tier, kMaxEntities>& tiers, Spans& chosen) {
    sort_candidates(candidates, tiers);
    std::size_t i = 0;
    // Per thread and kept: a streamed answer resolves once per delta.
    thread_local Spans tier_spans;
    thread_local Spans merged;
    while (i < candidates.size()) {
        const Tier current = tiers[candidates[i].entity];
        tier_spans.clear();
        std::size_t last_end = 0;
        std::size_t after = 0;  // the first chosen span that begins at or after c.begin
        for (; i < candidates.size() && tiers[candidates[i].entity] == current; ++i) {
            const Span& c = candidates[i];
            if (!tier_spans.empty() && c.begin < last_end) continue;
            // A tier's candidates come by begin, so `after` only moves forward.
            while (after < chosen.size() && chosen[after].begin < c.begin) ++after;
            if (after < chosen.size() && chosen[after].begin < c.end) continue;
            if (after > 0 && chosen[after - 1].end > c.begin) continue;
            tier_spans.push_back(c);
            last_end = c.end;
        }
        if (tier_spans.empty()) continue;
        merged.clear();
        merged.reserve(chosen.size() + tier_spans.size());
        std::merge(chosen.begin(), chosen.end(), tier_spans.begin(), tier_spans.end(),
                   std::back_inserter(merged),
                   [](const Span& a, const Span& b) { return a.begin < b.begin; });
        chosen.swap(merged);
    }
}

// The secret candidates that overlap no other secret candidate. Secrets outrank every other
// tier and nothing contests these, so resolution keeps each whole: a number that starts inside
// one cannot be chosen and need not be extracted (digits inside API keys and tokens).
class SecretCover {
public:
    void build(const Spans& candidates) {
        spans_.clear();
        next_ = 0;
        for (const Span& s : candidates)
            if (s.entity < kBuiltinEntityCount &&
                tier(static_cast<Entity>(s.entity)) == Tier::secret)
                spans_.push_back(s);
        // Trigger hits, then the scanner's "secret" words: usually two ascending runs.
        const auto by_begin = [](const Span& a, const Span& b) { return a.begin < b.begin; };
        const auto second_run = std::is_sorted_until(spans_.begin(), spans_.end(), by_begin);
        if (std::is_sorted(second_run, spans_.end(), by_begin))
            std::inplace_merge(spans_.begin(), second_run, spans_.end(), by_begin);
        else
            std::sort(spans_.begin(), spans_.end(), by_begin);
        std::size_t kept = 0;
        for (std::size_t i = 0; i < spans_.size(); ++i) {
            const bool alone = (i == 0 || spans_[i - 1].end <= spans_[i].begin) &&
                               (i + 1 == spans_.size() || spans_[i].end <= spans_[i + 1].begin);
            if (alone) spans_[kept++] = spans_[i];
        }
        spans_.resize(kept);
    }

    // Positions must be asked in increasing order.
    bool covers(std::size_t pos) {
        while (next_ < spans_.size() && spans_[next_].end <= pos) ++next_;
        return next_ < spans_.size() && spans_[next_].begin <= pos;
    }

private:
    Spans spans_;
    std::size_t next_ = 0;
};

}  // namespace

bool RecognizerSet::find(std::string_view text, EntitySet enabled, Spans& out,
                         std::size_t from) const {
    if (enabled.empty() || text.empty()) return true;
    thread_local CleanTextMemo clean;
    if (clean.known_clean(id_, enabled.bits(), text)) return true;
    thread_local std::vector<TriggerHit> hits;
    thread_local Spans candidates;
    thread_local Spans chosen;
    hits.clear();
    candidates.clear();
    chosen.clear();
    if (!scan_triggers(text, hits)) return false;
    const auto& triggers = builtin_triggers();
    std::array<std::size_t, kBuiltinEntityCount> examined{};
    for (const auto& hit : hits) {
        const Trigger& trigger = triggers[hit.trigger];
        const auto entity = static_cast<std::size_t>(trigger.entity);
        if (!enabled.contains(id_of(trigger.entity)) || hit.end <= examined[entity]) continue;
        examined[entity] = std::max(examined[entity], trigger.confirm(text, hit.end, candidates));
    }
    thread_local std::vector<ScanHit> scanned;
    scanned.clear();
    simd_scan(text, scanned);
    // The word "secret": an AWS secret key may follow.
    if (enabled.contains(id_of(Entity::aws_secret_key))) {
        std::size_t& done = examined[static_cast<std::size_t>(Entity::aws_secret_key)];
        for (const auto& hit : scanned) {
            const std::size_t word_end = hit.pos + kSecretWord.size();
            if (hit.kind != ScanKind::secret_word || word_end <= done) continue;
            done = std::max(done, extract_aws_secret_key(text, word_end, candidates));
        }
    }
    thread_local SecretCover secrets;
    secrets.build(candidates);
    // Number-shaped entities.
    struct Numeric {
        Entity entity;
        Extractor extract;
        bool (*possible)(const NumericShape&);
    };
    static constexpr Numeric kNumeric[] = {
        {Entity::phone, extract_phone,
         [](const NumericShape& s) {
             return s.digits >= kPhoneMinDigits &&
                    (s.plus || s.nanp_groups || (s.zero_group && s.digits >= kTrunkMinDigits));
         }},
        {Entity::credit_card, extract_card,
         [](const NumericShape& s) { return s.digits >= kCardMinDigits; }},
        {Entity::us_ssn, extract_ssn, [](const NumericShape& s) { return s.ssn_groups; }},
        {Entity::ipv4, extract_ipv4,
         [](const NumericShape& s) { return s.digits >= kIpv4MinDigits && s.dots >= kIpv4Dots; }}};
    std::array<std::size_t, kBuiltinEntityCount> examined_numeric{};
    NumericShape shape;
    std::size_t all_done = 0;  // every number extractor has examined the text before this
    std::size_t inside_iban_until = 0;
    bool custom_enabled = false;
    for (std::size_t i = 0; i < custom_.size(); ++i)
        custom_enabled |= enabled.contains(static_cast<EntityId>(kBuiltinEntityCount + i));
    for (const auto& candidate : scanned) {
        if (candidate.kind == ScanKind::secret_word) continue;
        if (candidate.kind == ScanKind::iban) {
            if (enabled.contains(id_of(Entity::iban)) &&
                candidate.pos >= examined_numeric[id_of(Entity::iban)]) {
                const std::size_t found = candidates.size();
                examined_numeric[id_of(Entity::iban)] =
                    extract_iban(text, candidate.pos, candidates);
                // The numbers inside an IBAN start after it and overlap it, so they lose to it
                // in resolution — unless a custom pattern outranks the IBAN there.
                if (candidates.size() > found && !custom_enabled)
                    inside_iban_until = candidates.back().end;
            }
            continue;
        }
        if (candidate.pos + 1 <= all_done || candidate.pos < inside_iban_until ||
            secrets.covers(candidate.pos))
            continue;
        if (!shape.whole || candidate.pos < shape.begin || candidate.pos >= shape.end)
            shape = numeric_shape(text, candidate.pos);
        for (const auto& [entity, extract, possible] : kNumeric) {
            auto& done = examined_numeric[id_of(entity)];
            if (!enabled.contains(id_of(entity)) || candidate.pos + 1 <= done) continue;
            if (!possible(shape)) {
                // Nothing of this kind anywhere in the run: its other candidates need no look.
                if (shape.whole) done = std::max(done, shape.end);
                continue;
            }
            done = std::max(done, extract(text, candidate.pos + 1, candidates));
        }
        all_done = SIZE_MAX;
        for (const auto& numeric : kNumeric)
            if (enabled.contains(id_of(numeric.entity)))
                all_done = std::min(all_done, examined_numeric[id_of(numeric.entity)]);
    }
    if (!find_custom(text, enabled, candidates)) return false;
    if (candidates.empty()) {
        clean.remember_clean(id_, enabled.bits(), text);
        return true;
    }
    std::array<Tier, kMaxEntities> tiers{};
    for (std::size_t id = 0; id < entity_count(); ++id)
        tiers[id] = tier_of(static_cast<EntityId>(id));
    resolve(candidates, tiers, chosen);
    for (const auto& span : chosen)
        if (span.begin >= from) out.push_back(span);
    return true;
}

std::size_t RecognizerSet::hold_from(std::string_view text, EntitySet enabled,
                                     std::size_t from) const {
    std::size_t hold = builtin_hold_from(text, enabled, from);
    for (std::size_t i = 0; i < custom_.size(); ++i) {
        if (!enabled.contains(static_cast<EntityId>(kBuiltinEntityCount + i))) continue;
        const std::size_t len = custom_[i].max_length;
        const std::size_t start = text.size() > len ? text.size() - len : 0;
        hold = std::min(hold, std::max(start, from));
    }
    return hold;
}

}  // namespace sluice::masking
