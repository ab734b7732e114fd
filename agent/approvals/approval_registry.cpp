#include "agent/approvals/approval_registry.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace sluice {

namespace {

std::string new_approval_id() {
    static thread_local std::mt19937_64 random{std::random_device{}()};
    char text[24];
    std::snprintf(text, sizeof text, "ap-%012llx",
                  static_cast<unsigned long long>(random() & 0xffffffffffffULL));
    return text;
}

std::chrono::milliseconds since(ApprovalRegistry::Clock::time_point then,
                                ApprovalRegistry::Clock::time_point now) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - then);
}

ApprovalDecision withdrawn_decision() {
    ApprovalDecision decision;
    decision.state = ApprovalState::withdrawn;
    return decision;
}

}  // namespace

std::string_view to_string(ApprovalState state) {
    switch (state) {
        case ApprovalState::held:
            return "held";
        case ApprovalState::approved:
            return "approved";
        case ApprovalState::denied:
            return "denied";
        case ApprovalState::timed_out:
            return "timed_out";
        case ApprovalState::withdrawn:
            return "withdrawn";
        case ApprovalState::shut_down:
            return "shut_down";
    }
    return "unknown";
}

std::string approval_identity_key(std::optional<uint32_t> uid, const std::string& oidc_issuer,
                                  const std::string& oidc_subject) {
    std::string key = uid ? "uid:" + std::to_string(*uid) : "uid:?";
    if (!oidc_subject.empty()) key += "|oidc:" + oidc_issuer + "#" + oidc_subject;
    return key;
}

std::string Approver::key() const {
    if (signed_in_with_oidc()) return "oidc:" + oidc_issuer + "#" + oidc_subject;
    if (signed_in_with_saml()) return "saml:" + saml_idp + "#" + saml_name_id;
    return "uid:" + std::to_string(uid);
}

namespace {

// The requester never decides its own request, whatever groups it is in: not by kernel uid on
// the admin socket, not by OIDC subject on the web, and not on the web under the kernel user
// name it made the request as (the IdP's user name, or SAML NameID, for the same person).
std::string self_approval(const ApprovalRequester& requester, const Approver& approver) {
    if (approver.signed_in_on_web()) {
        if (approver.signed_in_with_oidc() && !requester.oidc_subject.empty() &&
            requester.oidc_subject == approver.oidc_subject &&
            requester.oidc_issuer == approver.oidc_issuer)
            return "OIDC subject " + approver.oidc_subject;
        if (!requester.user.empty() && requester.user == approver.name)
            return "user " + approver.name;
        return "";
    }
    return requester.uid == approver.uid ? approver.name : "";
}

}  // namespace

ApprovalRegistry::ApprovalRegistry(ApprovalSettings settings, ClockFn now)
    : settings_(std::move(settings)), now_(std::move(now)) {}

void ApprovalRegistry::forget_expired(Clock::time_point now) {
    std::erase_if(entries_, [&](const auto& item) { return item.second.forget_at <= now; });
    std::erase_if(scope_grants_, [&](const auto& item) { return item.second.until <= now; });
    std::erase_if(retry_grants_, [&](const auto& item) { return item.second.until <= now; });
}

std::optional<std::string> ApprovalRegistry::take_grant(const std::string& identity_key,
                                                        const std::string& rule,
                                                        const std::string& body_hash) {
    const std::lock_guard lock(mutex_);
    forget_expired(now_());
    if (auto it = retry_grants_.find({identity_key, body_hash}); it != retry_grants_.end()) {
        std::string id = it->second.approval_id;
        retry_grants_.erase(it);  // once
        return id;
    }
    if (auto it = scope_grants_.find({identity_key, rule}); it != scope_grants_.end())
        return it->second.approval_id;
    return std::nullopt;
}

ApprovalRegistry::HoldOutcome ApprovalRegistry::hold(HeldRequest request, WakeFn wake) {
    std::optional<HeldRequest> observed;
    if (hold_observer_) observed = request;
    HoldOutcome outcome = hold_locked(std::move(request), std::move(wake));
    if (observed && !outcome.id.empty()) hold_observer_(outcome.id, *observed);
    return outcome;
}

ApprovalRegistry::HoldOutcome ApprovalRegistry::hold_locked(HeldRequest request, WakeFn wake) {
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    forget_expired(now);
    std::size_t held = 0;
    std::size_t held_by_identity = 0;
    for (const auto& [id, entry] : entries_) {
        if (entry.decision.state != ApprovalState::held) continue;
        ++held;
        if (entry.request.requester.key == request.requester.key) ++held_by_identity;
    }
    if (held >= settings_.max_held)
        return {"", "sluice is holding as many requests for approval as it may (" +
                        std::to_string(held) + ")"};
    if (held_by_identity >= settings_.max_held_per_identity)
        return {"", "too many of your requests are waiting for approval (" +
                        std::to_string(held_by_identity) + ")"};
    std::string id = new_approval_id();
    while (entries_.contains(id)) id = new_approval_id();
    entries_.emplace(id, Entry{std::move(request),
                               ApprovalDecision{},
                               now,
                               Clock::time_point::max(),
                               std::move(wake),
                               {},
                               std::chrono::seconds::max()});
    return {id, ""};
}

std::optional<ApprovalDecision> ApprovalRegistry::decision(const std::string& id) const {
    const std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return withdrawn_decision();
    if (it->second.decision.state == ApprovalState::held) return std::nullopt;
    return it->second.decision;
}

ApprovalDecision ApprovalRegistry::expire(const std::string& id) {
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    auto it = entries_.find(id);
    if (it == entries_.end()) return withdrawn_decision();
    Entry& entry = it->second;
    entry.wake = nullptr;
    if (entry.decision.state != ApprovalState::held) return entry.decision;
    entry.decision.state = ApprovalState::timed_out;
    entry.decision.waited = since(entry.held_at, now);
    entry.forget_at = now + settings_.retry_window;
    return entry.decision;
}

void ApprovalRegistry::withdraw(const std::string& id) {
    const std::lock_guard lock(mutex_);
    entries_.erase(id);
}

void ApprovalRegistry::finish(const std::string& id) {
    const std::lock_guard lock(mutex_);
    entries_.erase(id);
}

void ApprovalRegistry::shut_down() {
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    for (auto& [id, entry] : entries_) {
        if (entry.decision.state != ApprovalState::held) continue;
        entry.decision.state = ApprovalState::shut_down;
        entry.decision.waited = since(entry.held_at, now);
        if (entry.wake) entry.wake();
        entry.wake = nullptr;
    }
}

bool ApprovalRegistry::may_approve(const Approver& approver) const {
    auto any_named = [](const std::vector<std::string>& groups,
                        const std::vector<std::string>& approver_groups) {
        return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
            return std::find(approver_groups.begin(), approver_groups.end(), g) !=
                   approver_groups.end();
        });
    };
    if (approver.signed_in_with_oidc())
        return any_named(approver.oidc_groups, settings_.approver_oidc_groups);
    if (approver.signed_in_with_saml())
        return any_named(approver.saml_groups, settings_.approver_saml_groups);
    if (approver.uid == 0) return true;
    if (std::find(settings_.approver_uids.begin(), settings_.approver_uids.end(), approver.uid) !=
        settings_.approver_uids.end())
        return true;
    return std::any_of(approver.gids.begin(), approver.gids.end(), [&](gid_t gid) {
        return std::find(settings_.approver_gids.begin(), settings_.approver_gids.end(), gid) !=
               settings_.approver_gids.end();
    });
}

ApprovalRegistry::DecideOutcome ApprovalRegistry::decide(const std::string& id,
                                                         const Approver& approver, bool approve,
                                                         std::string reason,
                                                         std::chrono::seconds scope_for) {
    DecideOutcome outcome;
    if (!may_approve(approver)) {
        outcome.error = approver.name + (approver.signed_in_on_web()
                                             ? " is not in an approver group (approvals.web)"
                                             : " is not an approver (root or approvals.approvers "
                                               "in the config)");
        return outcome;
    }
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    forget_expired(now);
    auto it = entries_.find(id);
    if (it == entries_.end()) {
        outcome.error = "no held or timed-out request with id " + id;
        return outcome;
    }
    Entry& entry = it->second;
    if (const std::string self = self_approval(entry.request.requester, approver); !self.empty()) {
        outcome.error = "self-approval refused: " + self + " made request " + id;
        return outcome;
    }
    const bool timed_out = entry.decision.state == ApprovalState::timed_out;
    if (entry.decision.state != ApprovalState::held && !timed_out) {
        outcome.error =
            "request " + id + " is already " + std::string(to_string(entry.decision.state));
        return outcome;
    }
    const std::string approver_key = approver.key();
    if (approve && std::find(entry.approver_keys.begin(), entry.approver_keys.end(),
                             approver_key) != entry.approver_keys.end()) {
        outcome.error = approver.name + " already approved request " + id + "; it needs " +
                        std::to_string(entry.request.min_approvers) + " distinct approvers";
        return outcome;
    }
    ApprovalDecision& decision = entry.decision;
    decision.approver = approver.name;
    decision.approver_uid = approver.uid;
    decision.approver_via = approver.via;
    decision.approver_oidc_subject = approver.oidc_subject;
    decision.approver_saml_idp = approver.saml_idp;
    decision.approver_saml_name_id = approver.saml_name_id;
    decision.reason = std::move(reason);
    decision.min_approvers = entry.request.min_approvers;
    if (!timed_out) decision.waited = since(entry.held_at, now);
    if (approve) {
        entry.approver_keys.push_back(approver_key);
        decision.approvers.push_back(approver.name);
        entry.scope_for = std::min(entry.scope_for, scope_for);
        if (static_cast<int>(entry.approver_keys.size()) < entry.request.min_approvers) {
            // Counted; still held (or still timed out) until enough distinct approvers agree.
            outcome.ok = true;
            outcome.event = "partially_approved";
            outcome.decision = decision;
            outcome.request = entry.request;
            return outcome;
        }
        scope_for = entry.scope_for;
    }
    decision.state = approve ? ApprovalState::approved : ApprovalState::denied;
    decision.scope = approve && scope_for.count() > 0 ? "for" : "once";
    decision.scope_for = approve ? scope_for : std::chrono::seconds{0};
    if (approve && scope_for.count() > 0)
        scope_grants_[{entry.request.requester.key, entry.request.rule}] =
            ScopeGrant{id, now + scope_for};
    if (timed_out) {
        // Nobody waits any more: the identical retry passes once, within the window.
        if (approve && !entry.request.body_hash.empty())
            retry_grants_[{entry.request.requester.key, entry.request.body_hash}] =
                RetryGrant{id, now + settings_.retry_window};
        entry.forget_at = now + settings_.retry_window;
    } else if (entry.wake) {
        entry.wake();
        entry.wake = nullptr;
    }
    outcome.ok = true;
    outcome.event = std::string(to_string(decision.state));
    outcome.decision = decision;
    outcome.request = entry.request;
    return outcome;
}

nlohmann::json ApprovalRegistry::entry_json(const std::string& id, const Entry& entry,
                                            Clock::time_point now) const {
    const HeldRequest& r = entry.request;
    nlohmann::json out{{"id", id},
                       {"request_id", r.request_id},
                       {"state", std::string(to_string(entry.decision.state))},
                       {"requester", {{"uid", r.requester.uid}, {"user", r.requester.user}}},
                       {"rule", r.rule},
                       {"reason", r.reason},
                       {"method", r.method},
                       {"path", r.path},
                       {"model", r.model},
                       {"stream", r.stream},
                       {"body_sha256", r.body_hash},
                       {"excerpt", r.excerpt},
                       {"min_approvers", r.min_approvers},
                       {"approvals", entry.decision.approvers}};
    if (!r.requester.oidc_subject.empty())
        out["requester"]["oidc_subject"] = r.requester.oidc_subject;
    if (!r.requester.describe.is_null()) out["requester"]["identity"] = r.requester.describe;
    if (entry.decision.state == ApprovalState::held) {
        out["waiting_s"] = since(entry.held_at, now).count() / 1000;
        const auto deadline = entry.held_at + settings_.timeout;
        out["times_out_in_s"] =
            deadline > now
                ? std::chrono::duration_cast<std::chrono::seconds>(deadline - now).count()
                : 0;
    } else {
        out["waited_s"] = entry.decision.waited.count() / 1000;
        if (!entry.decision.approver.empty()) {
            out["approver"] = entry.decision.approver;
            out["decision_reason"] = entry.decision.reason;
            out["scope"] = entry.decision.scope;
        }
    }
    return out;
}

std::size_t ApprovalRegistry::open_holds() const {
    const std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(entries_.begin(), entries_.end(), [](const auto& item) {
            return item.second.decision.state == ApprovalState::held ||
                   item.second.decision.state == ApprovalState::shut_down;
        }));
}

nlohmann::json approval_event_json(const std::string& id, std::string_view event,
                                   const HeldRequest& request, const ApprovalDecision& decision) {
    nlohmann::json out{
        {"id", id},
        {"event", std::string(event)},
        {"rule", request.rule},
        {"requester", {{"uid", request.requester.uid}, {"user", request.requester.user}}},
        {"wait_ms", decision.waited.count()}};
    if (!request.requester.oidc_subject.empty())
        out["requester"]["oidc_subject"] = request.requester.oidc_subject;
    if (!decision.approver.empty()) {
        out["approver"] = {{"user", decision.approver}, {"via", decision.approver_via}};
        if (!decision.approver_saml_name_id.empty()) {
            out["approver"]["saml_name_id"] = decision.approver_saml_name_id;
            out["approver"]["saml_idp"] = decision.approver_saml_idp;
        } else if (!decision.approver_oidc_subject.empty()) {
            out["approver"]["oidc_subject"] = decision.approver_oidc_subject;
        } else {
            out["approver"]["uid"] = decision.approver_uid;
        }
        if (decision.min_approvers > 1) {
            out["approvers"] = decision.approvers;
            out["min_approvers"] = decision.min_approvers;
        }
        out["decision"] = event == "partially_approved" ? std::string("approved")
                                                        : std::string(to_string(decision.state));
        out["reason"] = decision.reason;
        out["scope"] = decision.scope;
        if (decision.scope_for.count() > 0) out["scope_for_s"] = decision.scope_for.count();
    }
    return out;
}

nlohmann::json ApprovalRegistry::list() const {
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [id, entry] : entries_)
        if (entry.forget_at > now) out.push_back(entry_json(id, entry, now));
    return out;
}

std::optional<nlohmann::json> ApprovalRegistry::show(const std::string& id) const {
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.forget_at <= now) return std::nullopt;
    return entry_json(id, it->second, now);
}

}  // namespace sluice
