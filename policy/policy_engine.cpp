#include "policy/policy_engine.h"

#include <algorithm>

#include "policy/api_endpoint.h"
#include "policy/ascii_case.h"
#include "policy/glob.h"
#include "policy/output_bound.h"
#include "policy/rule_index.h"
#include "policy/tool_calls/tool_call_control.h"

namespace sluice {

std::string_view to_string(PolicyAction action) {
    switch (action) {
        case PolicyAction::allow:
            return "allow";
        case PolicyAction::deny:
            return "deny";
        case PolicyAction::rate_limited:
            return "rate_limited";
        case PolicyAction::budget_exceeded:
            return "budget_exceeded";
        case PolicyAction::approval_required:
            return "approval_required";
    }
    return "deny";
}

std::string_view to_string(RecordMode mode) {
    switch (mode) {
        case RecordMode::none:
            return "none";
        case RecordMode::metadata:
            return "metadata";
        case RecordMode::full:
            return "full";
    }
    return "none";
}

const ModelPrice* Policy::price_for(std::string_view model) const {
    for (const auto& price : prices)
        if (glob_match(price.model, model)) return &price;
    return nullptr;
}

namespace {

bool any_glob(const std::vector<std::string>& globs, std::string_view value) {
    return std::any_of(globs.begin(), globs.end(),
                       [&](const std::string& g) { return glob_match(g, value); });
}

bool contains(const std::vector<std::string>& values, std::string_view value) {
    return std::find(values.begin(), values.end(), value) != values.end();
}

std::string list_text(const std::vector<std::string>& values) {
    std::string out = "[";
    for (const auto& v : values) out += (out.size() > 1 ? ", " : "") + v;
    return out + "]";
}

// Without regard to case: the patterns are lower-cased when loaded, and an upstream may
// route "/V1/Embeddings" or "post" as their lower-case forms.
const EndpointPattern* find_endpoint(const std::vector<EndpointPattern>& patterns,
                                     const PolicyRequest& request) {
    if (patterns.empty()) return nullptr;
    const std::string path = ascii_lower(path_without_query(request.path));
    const std::string method = ascii_lower(request.method);
    for (const auto& p : patterns)
        if (glob_match(p.method, method) && glob_match(p.path, path)) return &p;
    return nullptr;
}

// Records one check; `ok` false means the principal does not match. The text is a callable so
// it is only built when someone asked why: evaluate() never does, and building it for every
// rule tried was most of evaluate()'s time (tests/bench/policy_bench.cpp).
struct MatchTrace {
    std::string* why;
    bool ok = true;
    template <typename Text>
    void note(bool passed, Text&& text) {
        if (!passed) ok = false;
        if (why) {
            if (!why->empty()) *why += "; ";
            *why += text();
        }
    }
    // Nobody wants the account and a check already failed: the rest cannot change the answer.
    bool settled() const { return !ok && !why; }
};

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

PolicyDecision make_deny(PolicyAction action, const std::string& rule, std::string code,
                         std::string reason) {
    PolicyDecision d;
    d.action = action;
    d.rule = rule;
    d.code = std::move(code);
    d.reason = std::move(reason);
    d.http_status =
        action == PolicyAction::rate_limited || action == PolicyAction::budget_exceeded ? 429 : 403;
    return d;
}

// A control that must read the body could not (not JSON, compressed, too large): the
// client sent something sluice cannot put in canonical form, so 400, not a policy 403.
PolicyDecision make_unreadable(const std::string& rule, std::string code, std::string reason) {
    PolicyDecision d = make_deny(PolicyAction::deny, rule, std::move(code), std::move(reason));
    d.http_status = 400;
    return d;
}

// Appends a line to the explain trace if there is one; `line` is a callable building the text,
// so evaluate() (no trace) pays nothing for it.
template <typename Line>
void trace(std::string* out, Line&& line) {
    if (!out) return;
    *out += line();
    *out += '\n';
}

// A token value fit for a reason line: control bytes replaced, long values cut. Claim values
// come from a verified token but are still chosen by whoever issued it.
std::string printable(std::string_view value) {
    constexpr size_t kMaxBytes = 128;
    std::string out(value.substr(0, kMaxBytes));
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    if (value.size() > kMaxBytes) out += "...";
    return out;
}

// "kernel user 'alice' (uid 1001)", as reasons name the caller.
std::string kernel_user_text(const PolicyIdentity& id) {
    std::string uid = id.uid ? "uid " + std::to_string(*id.uid) : "no uid";
    if (id.user.empty()) return "kernel user " + uid + " (no user name)";
    return "kernel user " + in_quotes(id.user) + " (" + uid + ")";
}

// The token's value for the binding's claim: "sub" and "email" are the identity's subject and
// email as the issuer's claim mapping produced them; any other name is that string claim,
// which must hold exactly one value (a list claim cannot name one person).
std::optional<std::string_view> binding_value(const OidcBindingControl& c, const OidcIdentity& o) {
    if (c.claim == "sub") return std::string_view(o.subject);
    if (c.claim == "email") return std::string_view(o.email);
    auto it = o.claims.find(c.claim);
    if (it == o.claims.end() || it->second.size() != 1) return std::nullopt;
    return std::string_view(it->second.front());
}

// Whether the token presented belongs to the kernel user presenting it; the refusal when not.
// Reasons name the kernel user and the claim value (subjects are not secrets), never the token.
std::optional<PolicyDecision> check_oidc_binding(const OidcBindingControl& c,
                                                 const PolicyIdentity& id,
                                                 const std::string& rule_name, std::string* out) {
    if (!id.oidc) {
        if (c.required)
            return make_deny(
                PolicyAction::deny, rule_name, "oidc_token_required",
                "rule " + rule_name + " requires an OIDC token bound to " + kernel_user_text(id));
        trace(out, [] { return "  oidc_binding: no OIDC token presented; not required"; });
        return std::nullopt;
    }
    auto value = binding_value(c, *id.oidc);
    if (!value || value->empty())
        return make_deny(PolicyAction::deny, rule_name, "identity_mismatch",
                         "OIDC token has no single '" + printable(c.claim) + "' claim to bind to " +
                             kernel_user_text(id));
    const std::vector<std::string>* allowed = nullptr;
    if (!id.user.empty())
        if (auto it = c.users.find(id.user); it != c.users.end()) allowed = &it->second;
    if (!allowed && id.uid)
        if (auto it = c.users.find(std::to_string(*id.uid)); it != c.users.end())
            allowed = &it->second;
    // Not listed: the claim must be the user name itself (an unnamed uid can only be listed).
    bool bound = allowed ? any_glob(*allowed, *value) : !id.user.empty() && *value == id.user;
    if (!bound)
        return make_deny(PolicyAction::deny, rule_name, "identity_mismatch",
                         "OIDC " + c.claim + " " + in_quotes(printable(*value)) +
                             " is not bound to " + kernel_user_text(id));
    trace(out, [&] {
        return "  oidc_binding: " + c.claim + " " + in_quotes(printable(*value)) + " bound to " +
               kernel_user_text(id) + (allowed ? " by oidc_binding.users" : " (same name)");
    });
    return std::nullopt;
}

// Why a rule's require_approval holds this request ("" when unconditional), or nullopt when
// none of its conditions is met. A body that cannot be scanned is held: a person decides.
std::optional<std::string> approval_reason(const ApprovalControl& c, const PolicyRequest& request) {
    if (!c.conditional()) return std::string();
    if (c.prompts) {
        if (!request.body_readable) return std::string(" (the prompt could not be scanned)");
        if (auto hit = c.prompts->first_match(request.scan_texts.empty() ? request.texts
                                                                         : request.scan_texts))
            return " (prompt matches pattern " + *hit + ")";
    }
    if (c.min_prompt_tokens && request.estimated_prompt_tokens >= *c.min_prompt_tokens)
        return " (estimated " + std::to_string(request.estimated_prompt_tokens) +
               " prompt tokens, at least " + std::to_string(*c.min_prompt_tokens) + ")";
    return std::nullopt;
}

// The decision up to accounting; `out` set: explain (the trace, nothing to take).
PendingDecision decide(const Policy& policy, const PolicyIdentity& identity,
                       const PolicyRequest& request, PolicyTimePoint now, std::string* out) {
    std::vector<std::string> skipped;
    auto finish = [&](PolicyDecision d) -> PendingDecision {
        d.skipped_controls = skipped;
        return {std::move(d), std::nullopt};
    };

    // Prompt patterns: shared by the global block and the rule's.
    // `label` is a view: "block_prompts (global)" is too long for the small-string buffer, and
    // evaluate() should not allocate it for every request.
    auto check_prompts = [&](const PromptBlockControl& control, const std::string& rule_name,
                             std::string_view label) -> std::optional<PolicyDecision> {
        if (!request.body_readable) {
            if (control.fail_mode == FailMode::open) {
                skipped.emplace_back(label);
                trace(out, [&] {
                    return "  " + std::string(label) +
                           ": body unreadable, skipped (fail_mode open)";
                });
                return std::nullopt;
            }
            return make_unreadable(rule_name, "prompt_unscannable",
                                   "request body could not be scanned for blocked prompt patterns");
        }
        if (auto hit = control.patterns->first_match(
                request.scan_texts.empty() ? request.texts : request.scan_texts)) {
            // Never echo the text itself: the reason goes to logs, audit and the client.
            return make_deny(PolicyAction::deny, rule_name, "prompt_blocked",
                             "prompt matches blocked pattern " + *hit);
        }
        trace(out, [&] {
            return "  " + std::string(label) + ": no blocked pattern found (" +
                   std::to_string(control.patterns->patterns().size()) + " patterns)";
        });
        return std::nullopt;
    };

    if (policy.block_prompts) {
        if (auto d =
                check_prompts(*policy.block_prompts, "block_prompts", "block_prompts (global)")) {
            trace(out, [&] { return "global block_prompts: " + d->reason; });
            return finish(*d);
        }
    }

    const PolicyRule* rule = nullptr;
    if (!out && policy.rule_index) {
        if (auto found = policy.rule_index->first_match(policy.rules, identity))
            rule = &policy.rules[*found];
    } else {
        // Explain walks every rule up to the match to say why each earlier one did not.
        for (const auto& candidate : policy.rules) {
            std::string why;
            bool matched = principal_matches(candidate.match, identity, out ? &why : nullptr);
            trace(out, [&] {
                return "rules[" + std::to_string(candidate.index) + "] " + candidate.name +
                       " (line " + std::to_string(candidate.line) +
                       "): " + (matched ? "MATCHED" : "no match") +
                       (why.empty() ? "" : " — " + why);
            });
            if (matched) {
                rule = &candidate;
                break;
            }
        }
    }
    if (!rule) {
        trace(out, [&] {
            return "no rule matched: default " +
                   std::string(policy.default_allow ? "allow" : "deny");
        });
        if (policy.default_allow) {
            PolicyDecision d;
            d.action = PolicyAction::allow;
            d.rule = "default";
            d.http_status = 200;
            d.reason = "no rule matched; default allow";
            return finish(d);
        }
        return finish(make_deny(PolicyAction::deny, "default", "policy_default_deny",
                                "no rule matched; default deny"));
    }
    const std::string& name = rule->name;

    // Identity first: a token presented by the wrong kernel user is refused as that, whatever
    // else the rule would have said.
    if (rule->oidc_binding) {
        if (auto d = check_oidc_binding(*rule->oidc_binding, identity, name, out))
            return finish(*d);
    }
    if (rule->tool_calls)
        trace(out, [&] {
            return "  tool_calls: " + std::to_string(rule->tool_calls->entries.size()) +
                   " entries decide each tool call the answer proposes";
        });

    if (rule->deny)
        return finish(
            make_deny(PolicyAction::deny, name, "rule_denied", "rule " + name + " denies"));

    if (rule->endpoints) {
        const auto& c = *rule->endpoints;
        auto target = [&] {
            return request.method + " " + std::string(path_without_query(request.path));
        };
        if (auto hit = find_endpoint(c.deny, request))
            return finish(
                make_deny(PolicyAction::deny, name, "endpoint_not_allowed",
                          "endpoint " + target() + " is denied by " + in_quotes(hit->text)));
        if (!c.allow.empty()) {
            auto hit = find_endpoint(c.allow, request);
            if (!hit)
                return finish(make_deny(PolicyAction::deny, name, "endpoint_not_allowed",
                                        "endpoint " + target() + " is not in endpoints.allow"));
            trace(out, [&] {
                return "  endpoints: " + target() + " allowed by " + in_quotes(hit->text);
            });
        }
    }

    if (rule->models) {
        const auto& c = *rule->models;
        if (!request.body_readable) {
            if (c.fail_mode == FailMode::closed)
                return finish(make_unreadable(name, "model_unknown",
                                              "request body could not be read to check the model"));
            skipped.push_back("models");
        } else if (request.model_unnamed && (!c.allow.empty() || !c.deny.empty())) {
            // A prompt template's model, or an array or object for one, is the provider's to
            // resolve: nothing here can say whether it is allowed.
            if (c.fail_mode == FailMode::closed)
                return finish(make_unreadable(
                    name, "model_unknown",
                    "request names no model as a string; rule " + name + " restricts models"));
            skipped.push_back("models");
        } else if (!request.model.empty()) {
            if (any_glob(c.deny, request.model))
                return finish(make_deny(
                    PolicyAction::deny, name, "model_not_allowed",
                    "model " + request.model + " is denied by models.deny " + list_text(c.deny)));
            if (!c.allow.empty() && !any_glob(c.allow, request.model))
                return finish(make_deny(
                    PolicyAction::deny, name, "model_not_allowed",
                    "model " + request.model + " is not in models.allow " + list_text(c.allow)));
            trace(out, [&] { return "  models: " + request.model + " allowed"; });
        }
    }

    if (rule->block_prompts) {
        if (auto d = check_prompts(*rule->block_prompts, name, "block_prompts")) return finish(*d);
    }

    std::optional<int64_t> clamp;
    int64_t output_estimate = request.max_output_tokens.value_or(0);
    bool output_known = request.max_output_tokens.has_value();
    if (rule->max_tokens) {
        const auto& c = *rule->max_tokens;
        if (!request.body_readable || !request.output_unbounded.empty()) {
            if (c.fail_mode == FailMode::closed)
                return finish(make_unreadable(
                    name, "max_tokens_unknown",
                    request.body_readable
                        ? "max tokens cannot be checked: " + request.output_unbounded
                        : "request body could not be read to check max tokens"));
            skipped.push_back("max_tokens");
        } else if (request.max_output_tokens && *request.max_output_tokens > c.limit) {
            if (c.mode == MaxTokensControl::Mode::reject)
                return finish(make_deny(PolicyAction::deny, name, "max_tokens_exceeded",
                                        "max output tokens " +
                                            std::to_string(*request.max_output_tokens) +
                                            " exceeds the limit " + std::to_string(c.limit)));
            clamp = c.limit;
        } else if (!request.max_output_tokens) {
            // No maximum asked: the cap still holds, so the agent writes it into the body.
            clamp = c.limit;
        }
        if (clamp) {
            output_estimate = *clamp;
            output_known = true;
            trace(out, [&] { return "  max_tokens: clamped to " + std::to_string(*clamp); });
        }
    }

    // After every control that refuses outright (a request they deny is never held) and
    // before rate limits and budgets, which are charged when the request is released.
    if (rule->require_approval) {
        if (request.approval_granted) {
            trace(out, [] { return "  require_approval: approved"; });
        } else if (auto why = approval_reason(*rule->require_approval, request)) {
            const int approvers = rule->require_approval->min_approvers;
            PolicyDecision held = make_deny(
                PolicyAction::approval_required, name, "approval_required",
                "rule " + name + " requires human approval" + *why +
                    (approvers > 1 ? " by " + std::to_string(approvers) + " approvers" : ""));
            held.min_approvers = approvers;
            return finish(std::move(held));
        } else {
            trace(out, [] { return "  require_approval: no condition met"; });
        }
    }

    // Budgets need a bound on what upstream may bill. A request that names no cap gets the
    // budget's assumed output written in as one (where the endpoint takes a cap), so the
    // estimate is a bound; a cap or `n` that cannot be read leaves none.
    const BudgetControl* budget = rule->budget ? &*rule->budget : nullptr;
    if (budget && !request.output_unbounded.empty()) {
        if (budget->fail_mode == FailMode::closed)
            return finish(make_unreadable(
                name, "output_unbounded",
                "the budget cannot bound this request's output: " + request.output_unbounded));
        skipped.push_back("budget.output_bound");
    }
    if (budget && !output_known && request.output_cap_writable &&
        request.output_unbounded.empty()) {
        clamp = budget->assumed_output_tokens;
        output_estimate = *clamp;
        output_known = true;
        trace(out, [&] {
            return "  budget: no output cap named; writing assumed_output_tokens " +
                   std::to_string(*clamp);
        });
    }
    // tokens_per_minute bounds output the same way when no budget has already.
    const RateLimitControl* rate = rule->rate_limit ? &*rule->rate_limit : nullptr;
    if (rate && rate->tokens_per_minute && !output_known) {
        if (!request.output_unbounded.empty()) {
            if (rate->fail_mode == FailMode::closed)
                return finish(
                    make_unreadable(name, "output_unbounded",
                                    "tokens_per_minute cannot bound this request's output: " +
                                        request.output_unbounded));
            skipped.push_back("rate_limit.output_bound");
        } else if (request.output_cap_writable) {
            clamp = rate->assumed_output_tokens;
            output_estimate = *clamp;
            output_known = true;
            trace(out, [&] {
                return "  rate_limit: no output cap named; writing assumed_output_tokens " +
                       std::to_string(*clamp);
            });
        }
    }
    // Every output (n, best_of, audio) may run to the cap.
    const int64_t outputs = std::max<int64_t>(1, request.outputs);

    Admission admission;
    if (rule->rate_limit) {
        const auto& c = *rule->rate_limit;
        auto key = principal_key(*rule, c.per, identity);
        if (!key && c.fail_mode == FailMode::open) {
            skipped.push_back("rate_limit");
        } else {
            // Closed: identities without the key share one bucket rather than going unlimited.
            std::string k = key.value_or(name + "|unknown");
            const bool fail_open = c.fail_mode == FailMode::open;
            int64_t tokens =
                saturating_add(request.estimated_prompt_tokens,
                               output_known ? saturating_multiply(output_estimate, outputs) : 0);
            admission.buckets.reserve(2);
            if (c.requests_per_minute)
                admission.buckets.push_back({"rpm|" + k, "requests_per_minute",
                                             c.requests_per_minute, 1, false, fail_open});
            if (c.tokens_per_minute)
                admission.buckets.push_back({"tpm|" + k, "tokens_per_minute", c.tokens_per_minute,
                                             tokens, true, fail_open});
        }
    }
    if (rule->budget) {
        const auto& c = *rule->budget;
        auto key = principal_key(*rule, c.per, identity);
        const ModelPrice* price = request.model.empty() ? nullptr : policy.price_for(request.model);
        // No body (GET /v1/models) bills nothing to price; a body without a model cannot be priced.
        bool cost_ok =
            c.cost_per_day_pico == 0 || price || (request.model.empty() && !request.model_unnamed);
        if (!cost_ok && c.fail_mode == FailMode::closed) {
            if (request.model_unnamed)
                return finish(make_unreadable(
                    name, "model_unknown",
                    "request names no model as a string; rule " + name + " has a cost budget"));
            return finish(
                make_deny(PolicyAction::deny, name, "price_unknown",
                          "no price for model " + request.model + " in the policy's price table"));
        }
        if (!key && c.fail_mode == FailMode::open) {
            skipped.push_back("budget");
        } else {
            if (!cost_ok) skipped.push_back("budget.cost_per_day");
            auto instant = std::chrono::time_point_cast<std::chrono::seconds>(now);
            auto offset = policy.offsets ? policy.offsets(c.timezone, instant) : std::nullopt;
            auto midnight = policy.offsets
                                ? next_local_midnight(policy.offsets, c.timezone, instant)
                                : std::nullopt;
            if (!offset || !midnight) {
                if (c.fail_mode == FailMode::closed)
                    return finish(make_deny(PolicyAction::deny, name, "budget_unavailable",
                                            "time zone " + c.timezone + " cannot be resolved"));
                skipped.push_back("budget");
            } else {
                Admission::AccountCharge charge;
                charge.key = "budget|" + key.value_or(name + "|unknown");
                charge.today = local_day(instant, *offset);
                charge.seconds_to_midnight = (*midnight - instant).count();
                charge.limit = {c.tokens_per_day, cost_ok ? c.cost_per_day_pico : 0};
                charge.fail_open = c.fail_mode == FailMode::open;
                const int64_t output = saturating_multiply(
                    output_known ? output_estimate : c.assumed_output_tokens, outputs);
                charge.amount.tokens = saturating_add(request.estimated_prompt_tokens, output);
                if (price) {
                    charge.amount.cost_pico =
                        saturating_add(saturating_multiply(request.estimated_prompt_tokens,
                                                           price->input_pico_per_token),
                                       saturating_multiply(output, price->output_pico_per_token));
                    admission.price_pico =
                        std::make_pair(price->input_pico_per_token, price->output_pico_per_token);
                }
                admission.accounts.push_back(std::move(charge));
            }
        }
    }

    PolicyDecision allow;
    allow.action = PolicyAction::allow;
    allow.rule = name;
    allow.rule_index = rule->index;
    allow.http_status = 200;
    allow.clamp_max_tokens = clamp;
    allow.reason = "allowed by rule " + name;
    if (admission.buckets.empty() && admission.accounts.empty()) return finish(allow);
    if (out) {
        for (const auto& b : admission.buckets)
            trace(out, [&] {
                return "  rate_limit: " + std::string(b.what) + " " + std::to_string(b.per_minute) +
                       " per " + b.key + " (would take " + std::to_string(b.amount) +
                       "; not charged by explain)";
            });
        for (const auto& a : admission.accounts)
            trace(out, [&] {
                return "  budget: " + a.key + " would reserve " + std::to_string(a.amount.tokens) +
                       " tokens (not charged by explain)";
            });
        return finish(allow);
    }
    PendingDecision pending = finish(allow);
    pending.admission = std::move(admission);
    return pending;
}

}  // namespace

PendingDecision decide_until_accounting(const Policy& policy, const PolicyIdentity& identity,
                                        const PolicyRequest& request, PolicyTimePoint now) {
    return decide(policy, identity, request, now, nullptr);
}

PolicyDecision apply_admission(PolicyDecision allow, const AdmissionResult& admitted) {
    if (admitted.outcome == AdmissionResult::Outcome::unavailable) {
        auto d = make_deny(PolicyAction::deny, allow.rule, "policy_unavailable", admitted.reason);
        d.http_status = 503;
        d.skipped_controls = std::move(allow.skipped_controls);
        return d;
    }
    if (!admitted.degraded.empty()) allow.skipped_controls.push_back(admitted.degraded);
    if (admitted.outcome != AdmissionResult::Outcome::admitted) {
        const bool rate = admitted.outcome == AdmissionResult::Outcome::rate_limited;
        auto d = make_deny(rate ? PolicyAction::rate_limited : PolicyAction::budget_exceeded,
                           allow.rule, rate ? "rate_limited" : "budget_exceeded", admitted.reason);
        d.retry_after_s = admitted.retry_after_s;
        d.skipped_controls = std::move(allow.skipped_controls);
        return d;
    }
    allow.reservation_id = admitted.reservation_id;
    return allow;
}

std::optional<std::string> principal_key(const PolicyRule& rule, PrincipalKey per,
                                         const PolicyIdentity& identity) {
    auto keyed = [&](std::string_view kind, std::string_view value) -> std::optional<std::string> {
        if (value.empty()) return std::nullopt;
        return rule.name + "|" + std::string(kind) + "=" + std::string(value);
    };
    switch (per) {
        case PrincipalKey::rule:
            return rule.name;
        case PrincipalKey::user:
            if (!identity.user.empty()) return keyed("user", identity.user);
            if (identity.uid) return keyed("uid", std::to_string(*identity.uid));
            return std::nullopt;
        case PrincipalKey::unit:
            return keyed("unit", identity.unit);
        case PrincipalKey::cgroup:
            return keyed("cgroup", identity.cgroup);
        case PrincipalKey::container:
            return keyed("container", identity.container_id);
        case PrincipalKey::exe:
            return keyed("exe", identity.exe);
        case PrincipalKey::subject:
            return keyed("subject", identity.oidc ? identity.oidc->subject : std::string());
    }
    return std::nullopt;
}

bool principal_matches(const PrincipalMatch& m, const PolicyIdentity& id, std::string* why) {
    MatchTrace t{why};
    if (!m.users.empty() || !m.uids.empty()) {
        bool hit = (!id.user.empty() && contains(m.users, id.user)) ||
                   (id.uid && std::find(m.uids.begin(), m.uids.end(), *id.uid) != m.uids.end());
        t.note(hit, [&] {
            return "user " + in_quotes(id.user) +
                   (id.uid ? " uid " + std::to_string(*id.uid) : "") +
                   (hit ? " listed" : " not in users/uids");
        });
        if (t.settled()) return false;
    }
    if (!m.groups.empty()) {
        bool hit = std::any_of(id.groups.begin(), id.groups.end(),
                               [&](const std::string& g) { return contains(m.groups, g); });
        t.note(hit, [&] {
            return "groups " + list_text(id.groups) + (hit ? " intersect " : " do not intersect ") +
                   list_text(m.groups);
        });
        if (t.settled()) return false;
    }
    // False once the answer is known to be no and nobody asked why. `unusable` says why the
    // value may not be matched by these globs at all (then nothing matches).
    auto check_globs = [&](const std::vector<std::string>& globs, const std::string& value,
                           const char* what, const char* unusable = nullptr) {
        if (globs.empty()) return true;
        bool hit = !unusable && !value.empty() && any_glob(globs, value);
        t.note(hit, [&] {
            if (unusable) return std::string(what) + " " + in_quotes(value) + " " + unusable;
            return std::string(what) + " " + in_quotes(value) +
                   (hit ? " matches " : " matches none of ") + list_text(globs);
        });
        return !t.settled();
    };
    if (!check_globs(m.cgroups, id.cgroup, "cgroup") || !check_globs(m.units, id.unit, "unit") ||
        !check_globs(m.slices, id.slice, "slice") ||
        !check_globs(m.containers, id.container_id, "container") ||
        !check_globs(m.container_runtimes, id.container_runtime, "container runtime") ||
        !check_globs(m.container_names, id.container_name, "container name") ||
        !check_globs(m.container_images, id.container_image, "container image") ||
        !check_globs(m.pods, id.pod_uid, "pod") ||
        !check_globs(m.exes, id.exe, "exe",
                     id.exe_trusted || id.exe.empty()
                         ? nullptr
                         : "is not root's alone (a user could have put it there): exes never "
                           "match it") ||
        !check_globs(m.user_exes, id.exe, "exe"))
        return false;
    // User-made names count only for the user whose subtree they are in (a process of another
    // uid cannot be moved there without root, but the rule must not depend on that).
    const UserControlledNames* own = id.user_controlled && id.user_controlled->owner_uid &&
                                             id.uid && *id.user_controlled->owner_uid == *id.uid
                                         ? &*id.user_controlled
                                         : nullptr;
    const char* not_own = own ? nullptr
                              : (id.user_controlled ? "is not in a subtree the caller owns"
                                                    : "(the cgroup has no user-made part)");
    auto user_value = [&](std::string UserControlledNames::*field) -> const std::string& {
        static const std::string kNone;
        return id.user_controlled ? (*id.user_controlled).*field : kNone;
    };
    if (!check_globs(m.user_cgroups, user_value(&UserControlledNames::cgroup), "user cgroup",
                     not_own) ||
        !check_globs(m.user_units, user_value(&UserControlledNames::unit), "user unit", not_own) ||
        !check_globs(m.user_slices, user_value(&UserControlledNames::slice), "user slice",
                     not_own) ||
        !check_globs(m.user_containers, user_value(&UserControlledNames::container_id),
                     "user container", not_own) ||
        !check_globs(m.user_pods, user_value(&UserControlledNames::pod_uid), "user pod", not_own))
        return false;
    if (m.has_oidc) {
        if (!id.oidc) {
            t.note(false, [] { return "no OIDC token presented"; });
        } else {
            const auto& o = *id.oidc;
            if (!check_globs(m.oidc_subjects, o.subject, "oidc subject") ||
                !check_globs(m.oidc_emails, o.email, "oidc email"))
                return false;
            if (!m.oidc_groups.empty()) {
                bool hit = std::any_of(o.groups.begin(), o.groups.end(), [&](const std::string& g) {
                    return contains(m.oidc_groups, g);
                });
                t.note(hit, [&] {
                    return "oidc groups " + list_text(o.groups) +
                           (hit ? " intersect " : " do not intersect ") + list_text(m.oidc_groups);
                });
                if (t.settled()) return false;
            }
            for (const auto& [claim, globs] : m.oidc_claims) {
                auto it = o.claims.find(claim);
                bool hit = it != o.claims.end() &&
                           std::any_of(it->second.begin(), it->second.end(),
                                       [&](const std::string& v) { return any_glob(globs, v); });
                t.note(hit, [&] {
                    return "oidc claim " + claim + (hit ? " matches " : " does not match ") +
                           list_text(globs);
                });
                if (t.settled()) return false;
            }
        }
    }
    if (why && why->empty()) *why = "matches everyone";
    return t.ok;
}

PolicyDecision evaluate(const Policy& policy, const PolicyIdentity& identity,
                        const PolicyRequest& request, PolicyAccounting& state,
                        PolicyTimePoint now) {
    PendingDecision pending = decide(policy, identity, request, now, nullptr);
    if (!pending.admission) return std::move(pending.decision);
    return apply_admission(std::move(pending.decision), state.admit(*pending.admission, now));
}

std::string explain(const Policy& policy, const PolicyIdentity& identity,
                    const PolicyRequest& request) {
    std::string steps;
    auto d =
        decide(policy, identity, request, std::chrono::system_clock::time_point{}, &steps).decision;
    std::string out = "decision: " + std::string(to_string(d.action));
    if (!d.allowed()) out += " (" + std::to_string(d.http_status) + " " + d.code + ")";
    out += "\nrule: " + d.rule + "\nreason: " + d.reason + "\n";
    if (d.clamp_max_tokens)
        out += "max tokens clamped to: " + std::to_string(*d.clamp_max_tokens) + "\n";
    for (const auto& s : d.skipped_controls) out += "skipped (fail_mode open): " + s + "\n";
    RecordMode record = RecordMode::none;
    if (d.allowed() && d.rule_index && *d.rule_index < policy.rules.size())
        record = policy.rules[*d.rule_index].record;
    out += "record: " + std::string(to_string(record)) + "\n";
    return out + "steps:\n" + steps;
}

}  // namespace sluice
