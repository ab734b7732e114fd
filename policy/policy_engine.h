// Evaluates a request against a policy: global prompt blocks, then the first rule whose
// principal matches (or the default), then that rule's controls in a fixed order — OIDC
// binding, action, approval, endpoints, models, prompt patterns, max_tokens, rate limits,
// budgets. Rate limits and budgets are checked and reserved atomically in PolicyState. The
// first matching rule is found through the policy's RuleIndex (policy/rule_index.h).
//
// Wiring in the agent (one data path: identity → policy → masking → upstream → audit):
//   start-up / SIGHUP / file change: read the file, load_policy(text, path, {tzif_resolver(read
//     /usr/share/zoneinfo/<zone>)}); on error keep the old policy and log result.error; on
//     success swap a shared_ptr<const Policy>. One PolicyState lives for the daemon's life
//     (not per policy), restored at start from <state_dir>/policy-state.json and written back
//     (to_json, write-temp-then-rename) every few seconds and at shutdown.
//   per request, after the body is read and before anything goes upstream: build
//     PolicyRequest from the strict reading's view of the body (read_request_body;
//     summarize_request for model/stream, read_output_bound for the output cap and
//     multipliers, extract_prompt_texts, estimate_prompt_tokens), call evaluate(policy,
//     identity, request, state, now). Not allowed → OpenAI-shaped error with http_status, code,
//     reason, Retry-After from retry_after_s. Allowed with clamp_max_tokens → rewrite the body's
//     max tokens field.
//   after the response: state.settle(id, usage, now) with token_usage_from_json of the body's
//     or stream's usage (nullopt if none arrived: the estimate is charged);
//     state.release(id, now) when upstream was never reached or answered 4xx/5xx.
//   audit: decision.action = to_string(action), decision.rule, decision.reason, and
//     skipped_controls when non-empty.
#pragma once

#include <optional>
#include <string>

#include "policy/policy_accounting.h"
#include "policy/policy_model.h"
#include "policy/policy_state.h"

namespace sluice {

// The decision for one request. When it allows and `reservation_id` is non-zero, the caller
// must later call exactly one of state.settle(id, usage, now) or state.release(id, now).
// Shared state that cannot be reached with a control's fail_mode closed refuses with 503
// policy_unavailable; open controls are kept on this host and named in skipped_controls.
PolicyDecision evaluate(const Policy& policy, const PolicyIdentity& identity,
                        const PolicyRequest& request, PolicyAccounting& state, PolicyTimePoint now);

// evaluate() in two steps, for an accounting that answers later (a shared store): the decision
// up to rate limits and budgets, with what it would take from them, then the decision once
// the accounting has answered. Without an admission the decision is already final.
struct PendingDecision {
    PolicyDecision decision;             // final, or the allow that waits for its admission
    std::optional<Admission> admission;  // set: take it, then apply_admission
};
PendingDecision decide_until_accounting(const Policy& policy, const PolicyIdentity& identity,
                                        const PolicyRequest& request, PolicyTimePoint now);
PolicyDecision apply_admission(PolicyDecision allow, const AdmissionResult& admitted);

// The decision as text for `sluicectl policy explain`: the outcome, each rule tried in order
// and why it did or did not match, and each control of the matching rule. Stateless: rate
// limits and budgets are described, not charged.
std::string explain(const Policy& policy, const PolicyIdentity& identity,
                    const PolicyRequest& request);

// Whether a principal block matches an identity; when `why` is set, it gets a short account.
bool principal_matches(const PrincipalMatch& match, const PolicyIdentity& identity,
                       std::string* why = nullptr);

// The bucket/account key a control uses for this identity; nullopt when the identity lacks
// the field (`per: unit` for a process outside any unit).
std::optional<std::string> principal_key(const PolicyRule& rule, PrincipalKey per,
                                         const PolicyIdentity& identity);

}  // namespace sluice
