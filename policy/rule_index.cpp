#include "policy/rule_index.h"

#include <algorithm>
#include <array>
#include <limits>

#include "policy/glob.h"
#include "policy/policy_engine.h"

namespace sluice {

namespace {

void file_rule(std::vector<uint32_t>& list, uint32_t rule) {
    // Rules are filed in order, so a rule whose values share a bucket is filed there once.
    if (list.empty() || list.back() != rule) list.push_back(rule);
}

// A glob key can stand for a rule only when every pattern forces leading bytes: "*.service"
// could match any value, so a rule anchored on it would have to be tried for everyone anyway.
bool anchors(const std::vector<std::string>& globs) {
    return !globs.empty() && std::all_of(globs.begin(), globs.end(), [](const std::string& g) {
        return glob_is_literal(g) || !glob_literal_prefix(g).empty();
    });
}

template <typename Map, typename Key>
const std::vector<uint32_t>* find_list(const Map& map, const Key& key) {
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
}

}  // namespace

// The rule lists one identity reaches, walked together in rule order. Fixed capacity so a
// lookup allocates nothing; an identity reaching more lists than that falls back to the scan.
struct RuleIndex::Candidates {
    struct Cursor {
        const uint32_t* next;
        const uint32_t* end;
    };
    static constexpr size_t kMaxLists = 32;
    std::array<Cursor, kMaxLists> cursors;
    size_t count = 0;
    bool overflow = false;

    void add(const RuleList* list) {
        if (!list || list->empty()) return;
        if (count == kMaxLists) {
            overflow = true;
            return;
        }
        cursors[count++] = {list->data(), list->data() + list->size()};
    }
};

RuleIndex::RuleIndex(const std::vector<PolicyRule>& rules) : rule_count_(rules.size()) {
    auto file_globs = [](GlobKey& key, const std::vector<std::string>& globs, uint32_t rule) {
        for (const auto& g : globs) {
            if (glob_is_literal(g))
                file_rule(key.exact[g], rule);
            else
                file_rule(key.by_prefix[glob_literal_prefix(g)], rule);
        }
    };
    for (uint32_t i = 0; i < rules.size(); ++i) {
        const auto& m = rules[i].match;
        // Any key works for correctness; the order prefers keys whose values are most
        // specific to one rule (a user name) over those many rules share (a group).
        if (!m.users.empty() || !m.uids.empty()) {
            for (const auto& user : m.users) file_rule(by_user_[user], i);
            for (auto uid : m.uids) file_rule(by_uid_[uid], i);
        } else if (anchors(m.units)) {
            file_globs(units_, m.units, i);
        } else if (anchors(m.exes)) {
            file_globs(exes_, m.exes, i);
        } else if (anchors(m.containers)) {
            file_globs(containers_, m.containers, i);
        } else if (anchors(m.cgroups)) {
            file_globs(cgroups_, m.cgroups, i);
        } else if (m.has_oidc && anchors(m.oidc_subjects)) {
            file_globs(oidc_subjects_, m.oidc_subjects, i);
        } else if (m.has_oidc && anchors(m.oidc_emails)) {
            file_globs(oidc_emails_, m.oidc_emails, i);
        } else if (!m.groups.empty()) {
            for (const auto& group : m.groups) file_rule(by_group_[group], i);
        } else if (m.has_oidc && !m.oidc_groups.empty()) {
            for (const auto& group : m.oidc_groups) file_rule(by_oidc_group_[group], i);
        } else {
            unanchored_.push_back(i);
        }
    }
    for (GlobKey* key :
         {&units_, &cgroups_, &containers_, &exes_, &oidc_subjects_, &oidc_emails_}) {
        for (const auto& [prefix, list] : key->by_prefix)
            key->prefix_lengths.push_back(prefix.size());
        std::sort(key->prefix_lengths.begin(), key->prefix_lengths.end());
        key->prefix_lengths.erase(
            std::unique(key->prefix_lengths.begin(), key->prefix_lengths.end()),
            key->prefix_lengths.end());
    }
}

void RuleIndex::collect(const PolicyIdentity& id, Candidates& out) const {
    // Mirrors principal_matches: a key is only consulted when the identity has a value for it.
    if (!id.user.empty()) out.add(find_list(by_user_, std::string_view(id.user)));
    if (id.uid) out.add(find_list(by_uid_, *id.uid));
    for (const auto& group : id.groups) out.add(find_list(by_group_, std::string_view(group)));
    auto globs = [&](const GlobKey& key, std::string_view value) {
        if (value.empty()) return;
        out.add(find_list(key.exact, value));
        for (size_t length : key.prefix_lengths) {
            if (length > value.size()) break;
            out.add(find_list(key.by_prefix, value.substr(0, length)));
        }
    };
    globs(units_, id.unit);
    globs(cgroups_, id.cgroup);
    globs(containers_, id.container_id);
    globs(exes_, id.exe);
    if (id.oidc) {
        globs(oidc_subjects_, id.oidc->subject);
        globs(oidc_emails_, id.oidc->email);
        for (const auto& group : id.oidc->groups)
            out.add(find_list(by_oidc_group_, std::string_view(group)));
    }
    out.add(&unanchored_);
}

std::optional<size_t> RuleIndex::first_match(const std::vector<PolicyRule>& rules,
                                             const PolicyIdentity& identity) const {
    // Built by the loader from these very rules; a hand-assembled Policy may not match.
    if (rules.size() != rule_count_) return first_match_linear(rules, identity);
    Candidates candidates;
    collect(identity, candidates);
    if (candidates.overflow) return first_match_linear(rules, identity);
    constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
    auto* begin = candidates.cursors.data();
    auto* end = begin + candidates.count;
    for (;;) {
        uint32_t next = kNone;
        for (auto* c = begin; c != end; ++c)
            if (c->next != c->end) next = std::min(next, *c->next);
        if (next == kNone) return std::nullopt;
        if (principal_matches(rules[next].match, identity)) return next;
        for (auto* c = begin; c != end; ++c)
            if (c->next != c->end && *c->next == next) ++c->next;
    }
}

std::optional<size_t> first_match_linear(const std::vector<PolicyRule>& rules,
                                         const PolicyIdentity& identity) {
    for (size_t i = 0; i < rules.size(); ++i)
        if (principal_matches(rules[i].match, identity)) return i;
    return std::nullopt;
}

}  // namespace sluice
