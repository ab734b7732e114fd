// RecognizerSet: finds the entities in a text. Built-ins run through the Hyperscan pre-filter
// and hand-written validators (prefilter.h, extractors.h); custom policy patterns through one
// RE2::Set pass, then RE2 (leftmost-longest) for the patterns that matched.
//
// Overlaps are resolved so each byte belongs to at most one span: secrets first, then custom
// patterns, then generic PII; within a tier, leftmost, then longest.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/masking/candidate.h"
#include "policy/masking/entity.h"

namespace sluice::masking {

struct CustomPattern {
    std::string name;  // as referenced from rules: "employee_id"; label "EMPLOYEE_ID"
    std::string regex;
    // Longest text a match may span. Bounds how much a stream holds back for this pattern.
    std::size_t max_length = 64;
};

class RecognizerSet {
public:
    // nullptr and `error` on a bad regex, an empty-matching one, too many patterns, or a
    // Hyperscan failure.
    static std::shared_ptr<const RecognizerSet> compile(std::vector<CustomPattern> custom,
                                                        std::string& error);
    // The built-ins only, shared by every rule without custom patterns.
    static std::shared_ptr<const RecognizerSet> builtin();

    // Appends the resolved spans of entities in `enabled`, sorted by begin; spans that start
    // before `from` take part in resolution but are not appended. False if a scan engine
    // failed (the caller must then not pass the text on).
    [[nodiscard]] bool find(std::string_view text, EntitySet enabled, Spans& out,
                            std::size_t from = 0) const;

    // For streams: the earliest offset >= `from` at which the end of `text` could still grow
    // into a match of an enabled entity, or text.size() when no tail can. Text before it is
    // final: more input cannot change what is found there.
    std::size_t hold_from(std::string_view text, EntitySet enabled, std::size_t from = 0) const;

    std::size_t entity_count() const { return kBuiltinEntityCount + custom_.size(); }
    // "EMAIL", "EMPLOYEE_ID"
    const std::string& label(EntityId id) const { return labels_.at(id); }
    std::string config_name(EntityId id) const;  // "email", "employee_id"
    std::optional<EntityId> find_entity(std::string_view config_name) const;
    const std::vector<CustomPattern>& custom() const { return custom_; }

    ~RecognizerSet();
    RecognizerSet(const RecognizerSet&) = delete;
    RecognizerSet& operator=(const RecognizerSet&) = delete;

private:
    RecognizerSet();
    bool find_custom(std::string_view text, EntitySet enabled, Spans& candidates) const;
    Tier tier_of(EntityId id) const;

    struct Engines;
    std::unique_ptr<Engines> engines_;
    const uint64_t id_;  // unique per process, never reused (clean_text_memo.h)
    std::vector<CustomPattern> custom_;
    std::vector<std::string> labels_;  // by EntityId
};

}  // namespace sluice::masking
