// The requests held for a person's approval, and the grants approvers have given
// (docs/approvals.md). Shared by every proxy worker (which hold and wait) and the admin socket
// (which lists and decides), so it sits behind one mutex; it does no I/O and reads time from an
// injected clock, so every rule here is tested without sockets or sleeps.
//
// Life of a hold: hold() → held; decide() → approved | denied (the waiting session is woken
// through the callback it gave and takes the decision with finish()); the session's deadline
// passing → expire() → timed_out. A timed-out entry is kept for `retry_window`: approving it
// then lets the identical request (same identity, same body hash) through once, so an agent's
// retry succeeds. Scopes: `once` (this request) or `for` a duration (the same identity and rule
// pass without a hold until it ends). A rule's `min_approvers`: the hold is released only when
// that many distinct approvers approved it (any one may deny); the requester never counts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

struct ApprovalSettings {
    std::chrono::seconds timeout{300};            // how long a request is held
    std::chrono::seconds keepalive_interval{15};  // SSE comment lines to a held stream
    std::chrono::seconds retry_window{3600};  // a late approval lets the retry through within this
    std::size_t max_held = 1000;              // held at once, in total
    std::size_t max_held_per_identity = 20;
    std::vector<uid_t> approver_uids;  // besides root
    std::vector<gid_t> approver_gids;
    std::vector<std::string> approver_oidc_groups;  // web approvers: a group claim naming one
    std::vector<std::string> approver_saml_groups;  // or a SAML group attribute's value naming one
};

// Who asked: the kernel identity (and OIDC subject) of the held request.
struct ApprovalRequester {
    uid_t uid = static_cast<uid_t>(-1);  // -1: unknown (never equal to an approver)
    std::string user;
    std::string oidc_issuer;
    std::string oidc_subject;  // "" when no token was presented
    std::string key;           // the identity grants are keyed by (approval_identity_key)
    nlohmann::json describe;   // for list/show: exe, unit, container...
};

// What is held: enough to show an approver and to match a retry, never the prompt itself (a
// masked excerpt of it at most).
struct HeldRequest {
    std::string request_id;  // the audit record's id
    ApprovalRequester requester;
    std::string rule;
    std::string reason;  // why the rule holds it (the policy's sentence)
    std::string method;
    std::string path;
    std::string model;
    bool stream = false;
    std::string body_hash;  // SHA-256 hex of the body as received
    int min_approvers = 1;  // the rule's: distinct approvals needed to release it
    std::string excerpt;    // the start of the prompt, masked (agent/gate/prompt_excerpt.h)
};

enum class ApprovalState { held, approved, denied, timed_out, withdrawn, shut_down };
std::string_view to_string(ApprovalState state);

// Who decides: a kernel user on the admin socket (uid and groups from SO_PEERCRED), or a person
// signed in to the web page with OIDC (issuer, subject and groups from a verified ID token).
struct Approver {
    uid_t uid = 0;
    std::vector<gid_t> gids{};
    std::string name{};                // user name, or "uid N"; the OIDC name or subject on the web
    std::string via = "admin_socket";  // "admin_socket" | "web_oidc" | "web_saml"
    std::string oidc_issuer{};         // web_oidc: set, and uid is not used
    std::string oidc_subject{};
    std::vector<std::string> oidc_groups{};
    std::string saml_idp{};  // web_saml: the IdP's entity id; set, and uid is not used
    std::string saml_name_id{};
    std::vector<std::string> saml_groups{};

    bool signed_in_with_oidc() const { return !oidc_subject.empty(); }
    bool signed_in_with_saml() const { return !saml_name_id.empty(); }
    bool signed_in_on_web() const { return signed_in_with_oidc() || signed_in_with_saml(); }
    // Distinct approvers are counted by this: the kernel uid, the OIDC issuer and subject, or the
    // SAML IdP and NameID.
    std::string key() const;
};

struct ApprovalDecision {
    ApprovalState state = ApprovalState::held;
    std::string approver;  // name; "" until decided (with min_approvers: the last to approve)
    uid_t approver_uid = 0;
    std::string approver_via;           // Approver::via
    std::string approver_oidc_subject;  // web_oidc
    std::string approver_saml_idp;      // web_saml
    std::string approver_saml_name_id;  // web_saml
    // Everyone who approved so far, in order (names); the hold is released when this reaches
    // min_approvers.
    std::vector<std::string> approvers;
    int min_approvers = 1;
    std::string reason;
    std::string scope;  // "once" | "for"
    std::chrono::seconds scope_for{0};
    std::chrono::milliseconds waited{0};  // from hold to decision or timeout
};

class ApprovalRegistry {
public:
    using Clock = std::chrono::steady_clock;
    using ClockFn = std::function<Clock::time_point()>;
    using WakeFn = std::function<void()>;  // called under the registry's lock: post, never block

    explicit ApprovalRegistry(
        ApprovalSettings settings, ClockFn now = [] { return Clock::now(); });

    const ApprovalSettings& settings() const { return settings_; }

    // Told of every new hold (the chat webhook), on the holding thread after the registry's
    // lock is released: it must only hand the notice on, never wait. Set before requests flow.
    using HoldObserver = std::function<void(const std::string& id, const HeldRequest& request)>;
    void set_hold_observer(HoldObserver observer) { hold_observer_ = std::move(observer); }

    // A standing grant for this request: a `for` grant of the identity and rule, or a late
    // approval of the same identity and body (consumed: it lets one retry through). Returns
    // the approval id that granted it.
    std::optional<std::string> take_grant(const std::string& identity_key, const std::string& rule,
                                          const std::string& body_hash);

    struct HoldOutcome {
        std::string id;       // set: held
        std::string refusal;  // set: too many held (the 429's message)
    };
    HoldOutcome hold(HeldRequest request, WakeFn wake);

    // The decision once made (state not held).
    std::optional<ApprovalDecision> decision(const std::string& id) const;
    // The session's wait ended: by its deadline (timed_out, kept for a late approval), or
    // because the client or sluiced went away (withdrawn, forgotten). Returns the decision in
    // force, which is a decision made just before if one raced the deadline.
    ApprovalDecision expire(const std::string& id);
    void withdraw(const std::string& id);
    // The session took an approval or denial: the entry is done.
    void finish(const std::string& id);
    // sluiced is stopping: every held session is woken to answer its client (state shut_down).
    void shut_down();

    struct DecideOutcome {
        bool ok = false;
        std::string error;          // why refused (not found, not an approver, self-approval)
        ApprovalDecision decision;  // ok: what was recorded
        HeldRequest request;        // ok: what it was about
        // ok: the audit event: "approved" | "denied", or "partially_approved" (an approval
        // counted, fewer than min_approvers so far: still held).
        std::string event;
    };
    // `approve` false: deny. `scope_for` > 0: the identity and rule pass for that long too
    // (with several approvers, the shortest scope any of them gave). An approval that leaves
    // the hold short of min_approvers is ok with the state still held.
    DecideOutcome decide(const std::string& id, const Approver& approver, bool approve,
                         std::string reason, std::chrono::seconds scope_for);

    bool may_approve(const Approver& approver) const;
    // Holds still waiting or being answered (shut_down not yet finished): sluiced's stop waits
    // for these to reach their clients.
    std::size_t open_holds() const;
    nlohmann::json list() const;
    std::optional<nlohmann::json> show(const std::string& id) const;

private:
    struct Entry {
        HeldRequest request;
        ApprovalDecision decision;
        Clock::time_point held_at;
        Clock::time_point forget_at = Clock::time_point::max();
        WakeFn wake;
        std::vector<std::string> approver_keys;  // Approver::key() of each approval so far
        std::chrono::seconds scope_for = std::chrono::seconds::max();  // the shortest given
    };
    struct ScopeGrant {
        std::string approval_id;
        Clock::time_point until;
    };
    struct RetryGrant {
        std::string approval_id;
        Clock::time_point until;
    };

    HoldOutcome hold_locked(HeldRequest request, WakeFn wake);
    void forget_expired(Clock::time_point now);
    nlohmann::json entry_json(const std::string& id, const Entry& entry,
                              Clock::time_point now) const;

    const ApprovalSettings settings_;
    const ClockFn now_;
    HoldObserver hold_observer_;
    mutable std::mutex mutex_;
    std::map<std::string, Entry> entries_;                                    // guarded by mutex_
    std::map<std::pair<std::string, std::string>, ScopeGrant> scope_grants_;  // (identity, rule)
    std::map<std::pair<std::string, std::string>, RetryGrant>
        retry_grants_;  // (identity, body hash)
};

// The audit's "approval" object for an event of hold `id` (held, approved, denied, timed_out,
// withdrawn, shut_down, granted): requester, approver, decision, reason, scope, wait.
nlohmann::json approval_event_json(const std::string& id, std::string_view event,
                                   const HeldRequest& request, const ApprovalDecision& decision);

// The identity grants are keyed by: the kernel uid, plus the OIDC issuer and subject when a
// token was presented, so one user's grant never covers another's token.
std::string approval_identity_key(std::optional<uint32_t> uid, const std::string& oidc_issuer,
                                  const std::string& oidc_subject);

}  // namespace sluice
