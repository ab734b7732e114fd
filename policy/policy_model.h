// The policy model: who a request comes from (PolicyIdentity), what it asks for
// (PolicyRequest), the compiled rules (Policy) and the answer (PolicyDecision). Built by
// `load_policy` (policy_loader.h), evaluated by `evaluate` (policy_engine.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy_timezone.h"
#include "policy/prompt_patterns.h"

namespace sluice {

namespace masking {
class MaskingControl;  // policy/masking/masking_control.h
}  // namespace masking
struct ToolCallControl;  // policy/tool_calls/tool_call_control.h
class RuleIndex;         // policy/rule_index.h

using PolicyTimePoint = std::chrono::system_clock::time_point;

// Claims of a verified OIDC token (verification is the agent's job; see issue 5).
struct OidcIdentity {
    std::string issuer;
    std::string subject;
    std::string email;
    std::vector<std::string> groups;
    std::map<std::string, std::vector<std::string>> claims;  // string claims; arrays flattened
};

// Names from the part of the cgroup tree a user controls (a delegated subtree such as
// user@UID.service, where any name can be made with mkdir): that user's labels, matched only by
// the user_* keys and only for the user who owns the subtree.
struct UserControlledNames {
    std::optional<uint32_t> owner_uid;  // nullopt: the kernel did not say whose (never matches)
    std::string cgroup;                 // path below the delegation point
    std::string unit;
    std::string slice;
    std::string container_id;
    std::string pod_uid;
};

// What policy knows about the caller: the agent fills it from its Identity (and OIDC).
// cgroup, unit, slice, container_id and pod_uid come only from the system's part of the cgroup
// path; names a user made are in user_controlled.
struct PolicyIdentity {
    std::optional<uint32_t> uid;
    std::string user;                 // "" when the uid has no passwd entry
    std::vector<std::string> groups;  // group names of the user
    std::string cgroup;               // path under the cgroup2 mount, up to any delegation point
    std::string unit;                 // systemd unit, e.g. "ci-build.service"
    std::string slice;                // systemd slice, e.g. "system.slice"
    std::string container_id;
    std::string pod_uid;
    // From the container runtime's own records (root's runtimes only): "podman", "docker",
    // "containerd", "cri-o"; the container's name and image as the runtime shows them.
    std::string container_runtime;
    std::string container_name;
    std::string container_image;
    std::string exe;
    // The exe and every directory above it are writable only by root; `exes` matches only
    // then (anyone may copy a binary to /tmp/ci-runner).
    bool exe_trusted = false;
    std::optional<UserControlledNames> user_controlled;
    std::optional<OidcIdentity> oidc;
};

struct PolicyRequest {
    std::string method;  // "POST"
    std::string path;    // "/v1/chat/completions"; a query string is ignored
    std::string model;   // "" when the request names none (GET /v1/models)
    // A JSON body that names no model, or not as a string (a Responses prompt template,
    // `"model": ["gpt-4o"]`): rules that restrict models or price requests cannot check it.
    bool model_unnamed = false;
    // Output tokens, per policy/output_bound.h: the largest cap the provider might honour (per
    // output), how many outputs (n, best_of, audio), whether the agent can write a cap into the
    // body, and why no bound can be computed (non-empty: controls follow their fail_mode).
    std::optional<int64_t> max_output_tokens;
    int64_t outputs = 1;
    bool output_cap_writable = false;
    std::string output_unbounded;
    bool stream = false;
    // A person approved this request (or a standing grant covers it): require_approval is met.
    bool approval_granted = false;
    std::vector<std::string> texts;  // extract_prompt_texts(body, path)
    // What blocked-prompt patterns read when set: every string of the body, decoded, joined
    // and folded (prompt_scan_texts of policy/request_reading.h). Empty: `texts`.
    std::vector<std::string> scan_texts;
    int64_t estimated_prompt_tokens = 0;  // estimate_prompt_tokens(texts)
    // False when the body should have been JSON but could not be read (not JSON, over the scan
    // limit): model, max_tokens and prompt controls then cannot run and follow their fail_mode.
    bool body_readable = true;
};

enum class PolicyAction { allow, deny, rate_limited, budget_exceeded, approval_required };
std::string_view to_string(PolicyAction action);

struct PolicyDecision {
    PolicyAction action = PolicyAction::deny;
    std::string rule;       // name of the rule that decided; "default" when none matched
    std::string reason;     // one human sentence; never echoes prompt text
    int http_status = 403;  // 200 allow, 403 deny/approval_required, 429 rate/budget
    std::optional<int64_t> retry_after_s;  // set with 429
    std::string code;  // OpenAI error `code`: e.g. "model_not_allowed", "rate_limited"
    std::optional<int64_t> clamp_max_tokens;  // agent rewrites the body's max tokens to this
    uint64_t reservation_id = 0;              // 0: nothing to settle
    // Position in Policy::rules of the rule that allowed the request (nullopt: default or
    // refused), so the agent can apply that rule's masking without looking it up by name.
    std::optional<size_t> rule_index;
    // approval_required: how many distinct approvers must approve (the rule's min_approvers).
    int min_approvers = 1;
    // Controls that could not run and were waved through because their fail_mode is open:
    // audit them so the record never claims a check that did not happen.
    std::vector<std::string> skipped_controls;

    bool allowed() const { return action == PolicyAction::allow; }
};

enum class FailMode { closed, open };

// Which part of the identity keys a rate limit or budget: one bucket per distinct value.
enum class PrincipalKey { rule, user, unit, cgroup, container, exe, subject };

struct PrincipalMatch {
    std::vector<std::string> users;  // exact user names
    std::vector<uint32_t> uids;
    std::vector<std::string> groups;  // exact group names
    // Globs on the system identity: never met by a name a user made (PolicyIdentity).
    std::vector<std::string> cgroups;
    std::vector<std::string> units;
    std::vector<std::string> slices;
    std::vector<std::string> containers;  // on the container id
    std::vector<std::string> container_runtimes;
    std::vector<std::string> container_names;   // as the runtime's records name it
    std::vector<std::string> container_images;  // as the runtime's records name it
    std::vector<std::string> pods;              // on the pod UID
    std::vector<std::string> exes;              // only executables root alone could have placed
    // Globs on what a user made or placed, met only when the caller owns it; the loader
    // requires users or uids beside them.
    std::vector<std::string> user_cgroups;  // path below the delegation point
    std::vector<std::string> user_units;
    std::vector<std::string> user_slices;
    std::vector<std::string> user_containers;
    std::vector<std::string> user_pods;
    std::vector<std::string> user_exes;      // any executable, trusted or not
    bool has_oidc = false;                   // an `oidc` block: requires a token
    std::vector<std::string> oidc_subjects;  // globs
    std::vector<std::string> oidc_emails;    // globs
    std::vector<std::string> oidc_groups;    // exact
    std::vector<std::pair<std::string, std::vector<std::string>>> oidc_claims;  // name → globs
};

// The glob keys of a `match` block by name, for the loader and `policy check`.
struct PrincipalGlobKey {
    std::string_view name;
    std::vector<std::string> PrincipalMatch::*globs;
    bool user_made;  // matches names a user chose (requires users/uids beside it)
};
inline constexpr PrincipalGlobKey kPrincipalGlobKeys[] = {
    {"cgroups", &PrincipalMatch::cgroups, false},
    {"units", &PrincipalMatch::units, false},
    {"slices", &PrincipalMatch::slices, false},
    {"containers", &PrincipalMatch::containers, false},
    {"container_runtimes", &PrincipalMatch::container_runtimes, false},
    {"container_names", &PrincipalMatch::container_names, false},
    {"container_images", &PrincipalMatch::container_images, false},
    {"pods", &PrincipalMatch::pods, false},
    {"exes", &PrincipalMatch::exes, false},
    {"user_cgroups", &PrincipalMatch::user_cgroups, true},
    {"user_units", &PrincipalMatch::user_units, true},
    {"user_slices", &PrincipalMatch::user_slices, true},
    {"user_containers", &PrincipalMatch::user_containers, true},
    {"user_pods", &PrincipalMatch::user_pods, true},
    {"user_exes", &PrincipalMatch::user_exes, true},
};

struct EndpointPattern {
    std::string method;  // glob, "*" for any
    std::string path;    // glob
    std::string text;    // as written, for reasons
};

struct ModelControl {
    std::vector<std::string> allow;  // globs; empty = any
    std::vector<std::string> deny;
    FailMode fail_mode = FailMode::closed;
};

struct EndpointControl {
    std::vector<EndpointPattern> allow;  // empty = any
    std::vector<EndpointPattern> deny;
};

struct MaxTokensControl {
    int64_t limit = 0;
    enum class Mode { reject, clamp } mode = Mode::reject;
    FailMode fail_mode = FailMode::closed;
};

struct RateLimitControl {
    int64_t requests_per_minute = 0;  // 0 = no limit
    int64_t tokens_per_minute = 0;
    // What tokens_per_minute reserves (and writes in as the cap) for a request naming no cap.
    int64_t assumed_output_tokens = 4096;
    PrincipalKey per = PrincipalKey::user;
    // When the identity lacks the `per` key, or tokens_per_minute cannot bound the output.
    FailMode fail_mode = FailMode::closed;
};

struct BudgetControl {
    int64_t tokens_per_day = 0;     // 0 = no limit
    int64_t cost_per_day_pico = 0;  // USD × 1e12; 0 = no limit
    std::string timezone = "UTC";
    PrincipalKey per = PrincipalKey::user;
    // Closed: an unknown price (cost budget) or missing `per` key denies. Open: skip.
    FailMode fail_mode = FailMode::closed;
    // Output tokens reserved when the request names no maximum and nothing clamps it.
    int64_t assumed_output_tokens = 4096;
};

struct PromptBlockControl {
    std::shared_ptr<const PromptPatternSet> patterns;
    FailMode fail_mode = FailMode::closed;
};

// Ties the OIDC token to the kernel user presenting it: uid 1001 may only use alice's token.
// A kernel user not listed in `users` must present a token whose claim equals its user name.
struct OidcBindingControl {
    std::string claim = "sub";  // "sub" (the subject), "email", or any string claim's name
    std::map<std::string, std::vector<std::string>> users;  // user name or uid → claim globs
    bool required = true;  // no token at all is refused too (oidc_token_required)
};

// A rule's `require_approval`: the request is held until a person approves it
// (docs/approvals.md). With no condition every request the rule matches is held; with
// conditions, a request meeting any of them. `min_approvers` distinct approvers must approve
// before a held request is released (any one may deny it).
struct ApprovalControl {
    std::shared_ptr<const PromptPatternSet> prompts;  // null: no prompt condition
    std::optional<int64_t> min_prompt_tokens;         // estimated prompt tokens at least this
    int min_approvers = 1;
    bool conditional() const { return prompts || min_prompt_tokens; }
};

// A rule's `record`: what sluice keeps of the requests it allows (docs/recording.md). none: the
// audit line only; metadata: a recording without bodies (timing, identity, decision, usage);
// full: with the request and answer bodies as the upstream saw them (after masking).
enum class RecordMode { none, metadata, full };
std::string_view to_string(RecordMode mode);

struct PolicyRule {
    std::string name;
    size_t index = 0;  // position in `rules`
    int line = 0;      // 1-based line in the source, for explain
    PrincipalMatch match;
    bool deny = false;  // action: deny
    std::optional<ApprovalControl> require_approval;
    std::optional<ModelControl> models;
    std::optional<EndpointControl> endpoints;
    std::optional<MaxTokensControl> max_tokens;
    std::optional<RateLimitControl> rate_limit;
    std::optional<BudgetControl> budget;
    std::optional<PromptBlockControl> block_prompts;
    std::optional<OidcBindingControl> oidc_binding;
    // PII/secret masking of requests and answers; null when the rule masks nothing.
    std::shared_ptr<const masking::MaskingControl> masking;
    // What happens to the tool calls the model's answers propose; null: all reach the agent.
    std::shared_ptr<const ToolCallControl> tool_calls;
    RecordMode record = RecordMode::metadata;  // docs/recording.md: metadata unless a rule says
};

// Price per token in pico-dollars (USD × 1e12): exact integers for any price listed per
// million tokens with up to six decimals.
struct ModelPrice {
    std::string model;  // glob
    int64_t input_pico_per_token = 0;
    int64_t output_pico_per_token = 0;
};

struct Policy {
    std::string source_name;
    bool default_allow = false;
    std::vector<PolicyRule> rules;
    std::vector<ModelPrice> prices;                   // exact names first, then globs in file order
    std::optional<PromptBlockControl> block_prompts;  // applies to every request, before rules
    UtcOffsetResolver offsets;
    // Finds the first matching rule without a scan (policy/rule_index.h); built by the loader.
    // Null in a hand-assembled Policy: evaluate() then scans the rules in order.
    std::shared_ptr<const RuleIndex> rule_index;

    const ModelPrice* price_for(std::string_view model) const;
};

}  // namespace sluice
