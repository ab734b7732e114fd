#include "agent/gate/request_gate.h"

#include <algorithm>
#include <chrono>

#include "agent/gate/audit_text.h"
#include "agent/gate/request_body_edit.h"
#include "policy/json_view.h"
#include "policy/masking/masking_control.h"
#include "policy/output_bound.h"
#include "policy/policy_engine.h"
#include "policy/prompt_text.h"
#include "policy/request_summary.h"
#include "policy/uncharged_accounting.h"

namespace sluice {

namespace {

// Larger JSON bodies are not parsed for policy: their model and prompt count as unreadable
// and each control follows its fail_mode (closed by default).
constexpr size_t kPolicyScanMaxBytes = 64 * 1024 * 1024;

// `body`: the view of the body as the strict reading found it; null when it did not read.
PolicyRequest describe(const GateRequest& request, const JsonView* body,
                       const RequestSummary& summary, const RequestReading* reading) {
    PolicyRequest out;
    out.method = std::string(request.method);
    out.path = std::string(request.target);
    out.approval_granted = request.approval_granted;
    if (!request.body_is_json) return out;
    if (!body || !body->is(body->root(), JsonKind::object)) {
        out.body_readable = false;
        return out;
    }
    out.model = summary.model;
    out.model_unnamed = summary.model.empty();
    out.stream = summary.stream;
    OutputBound bound = read_output_bound(*body, request.target);
    out.max_output_tokens = bound.cap;
    out.outputs = bound.outputs;
    out.output_cap_writable = bound.cap_writable;
    out.output_unbounded = std::move(bound.unbounded);
    out.texts = extract_prompt_texts(*body, request.target);
    out.estimated_prompt_tokens =
        estimate_prompt_tokens(out.texts) + estimate_attachment_tokens(*body, request.target);
    if (reading) out.scan_texts = prompt_scan_texts(*reading);
    return out;
}

bool masks_requests(const masking::MaskingControl* control) {
    return control && !control->enabled(masking::Direction::request).empty();
}

// Whether any control of the policy reads the body's texts (blocked prompts anywhere, request
// masking in any rule): only then are they decoded.
bool scans_texts(const Policy& policy) {
    if (policy.block_prompts) return true;
    return std::any_of(policy.rules.begin(), policy.rules.end(), [](const PolicyRule& rule) {
        return rule.block_prompts || masks_requests(rule.masking.get()) ||
               (rule.require_approval && rule.require_approval->prompts);
    });
}

// A control that reads the body and, with fail_mode open, let an unreadable one through.
bool body_control_waived(const PolicyDecision& decision) {
    return std::any_of(decision.skipped_controls.begin(), decision.skipped_controls.end(),
                       [](const std::string& control) {
                           return control.starts_with("block_prompts") || control == "models" ||
                                  control == "max_tokens";
                       });
}

// A body that does not read strictly, refused: no control that reads it said fail_mode open.
PolicyDecision refuse_unreadable(const PolicyDecision& decided, const std::string& problem) {
    PolicyDecision decision;
    decision.action = PolicyAction::deny;
    decision.rule = decided.rule;
    decision.http_status = 400;
    decision.code = "invalid_request_body";
    decision.reason = problem;
    decision.skipped_controls = decided.skipped_controls;
    return decision;
}

// Fail closed: a policy that cannot be evaluated or applied refuses the request.
PolicyDecision policy_unavailable(std::string reason) {
    PolicyDecision decision;
    decision.code = "policy_unavailable";
    decision.http_status = 503;
    decision.reason = std::move(reason);
    return decision;
}

PendingDecision decide_or_refuse(const Policy& policy, const PolicyIdentity& identity,
                                 const PolicyRequest& request, PolicyTimePoint now) {
    try {
        return decide_until_accounting(policy, identity, request, now);
    } catch (const std::exception& e) {
        PendingDecision refused;
        refused.decision =
            policy_unavailable(std::string("policy could not be evaluated: ") + e.what());
        return refused;
    }
}

// What the deciding rule hands the rest of the request path.
void take_rule_controls(GateResult& result, const Policy& policy) {
    if (const auto index = result.decision.rule_index; index && *index < policy.rules.size()) {
        result.masking = policy.rules[*index].masking;
        result.tool_calls = policy.rules[*index].tool_calls;
        result.record = policy.rules[*index].record;
    }
}

PolicyDecision allow_without_policy() {
    PolicyDecision decision;
    decision.action = PolicyAction::allow;
    decision.http_status = 200;
    decision.reason = "no policy in force";
    return decision;
}

}  // namespace

ClientError refusal_for(const PolicyDecision& decision) {
    ClientError error;
    error.status = static_cast<unsigned>(decision.http_status);
    error.type = "policy_violation";
    error.code = decision.code;
    error.message = "sluice policy: " + decision.reason;
    if (decision.retry_after_s)
        error.retry_after_s = static_cast<unsigned>(std::max<int64_t>(1, *decision.retry_after_s));
    return error;
}

struct PendingAccounting {
    Admission admission;
    PolicyTimePoint now;
    std::shared_ptr<const Policy> policy;
    // Of the request's body, which the caller keeps as it is until complete() (GateRequest).
    JsonView body;
    std::shared_ptr<RequestReading> reading;  // null when unread or unreadable
    bool charge = true;  // decide(): false when the decision only looks (UnchargedAccounting)
};

GateResult RequestGate::admit(const PolicyIdentity& identity, const GateRequest& request) {
    GateResult result;
    const bool readable = request.body && request.body_is_json && !request.body_encoded &&
                          request.body->size() <= kPolicyScanMaxBytes;
    const std::shared_ptr<const Policy> policy = policies_.current();
    if (!policy) {
        // Only the audit's model/stream are needed: read without building a tree.
        if (readable) result.summary = summarize_request_body(*request.body);
        result.decision = allow_without_policy();
        return result;
    }
    // Read once, strictly (request_reading.h): every control decides on this reading, and the
    // policy's facts, the body edits and the audit's model/stream come from its view of the
    // body (no tree is parsed: docs/benchmarks.md).
    std::shared_ptr<RequestReading> reading;
    JsonView body;
    if (readable)
        reading = std::make_shared<RequestReading>(
            read_request_body(*request.body, request.target, scans_texts(*policy), &body));
    const bool read = reading && reading->readable();
    if (read) result.summary = summarize_request(body);
    const bool unreadable = reading && !reading->readable();
    const auto now = std::chrono::system_clock::now();
    const PolicyRequest described =
        describe(request, read ? &body : nullptr, result.summary, read ? reading.get() : nullptr);
    PendingDecision pending = decide_or_refuse(*policy, identity, described, now);
    result.decision = std::move(pending.decision);
    // The audit keeps the model's name only as the policy would let it leave.
    if (!result.summary.model.empty())
        result.summary.model = audit_safe_model(policy, result.summary.model);
    const masking::MaskingControl* rule_masking = nullptr;
    if (const auto index = result.decision.rule_index; index && *index < policy->rules.size())
        rule_masking = policy->rules[*index].masking.get();
    if (unreadable) {
        // Name the problem in what the client and the audit see; a body no control waived
        // (request masking never does) is refused even when no rule control needed it.
        if (result.decision.allowed() &&
            (!body_control_waived(result.decision) || masks_requests(rule_masking)))
            result.decision = refuse_unreadable(result.decision, reading->problem);
        else if (!result.decision.allowed() && result.decision.http_status == 400)
            result.decision.reason += ": " + reading->problem;
        else if (result.decision.allowed())
            result.decision.skipped_controls.push_back("body (" + reading->problem + ")");
        reading.reset();
    }
    // Rate limits and budgets are taken last, once nothing else can refuse the request.
    if (result.decision.allowed() && pending.admission) {
        if (state_.answers_later()) {
            result.pending = std::make_shared<PendingAccounting>(PendingAccounting{
                std::move(*pending.admission), now, policy, std::move(body), std::move(reading)});
            return result;
        }
        result.decision =
            apply_admission(std::move(result.decision), state_.admit(*pending.admission, now));
    }
    conclude(result, request, *policy, body, std::move(reading));
    return result;
}

void RequestGate::admit_later(const GateResult& result, PolicyAccounting::AdmitCallback done) {
    state_.admit_later(result.pending->admission, result.pending->now, std::move(done));
}

void RequestGate::complete(GateResult& result, const GateRequest& request,
                           const AdmissionResult& admitted) {
    const std::shared_ptr<PendingAccounting> pending = std::move(result.pending);
    result.pending.reset();
    result.decision = apply_admission(std::move(result.decision), admitted);
    conclude(result, request, *pending->policy, pending->body, std::move(pending->reading));
}

void RequestGate::conclude(GateResult& result, const GateRequest& request, const Policy& policy,
                           const JsonView& body, std::shared_ptr<RequestReading> reading) {
    if (!result.decision.allowed()) {
        result.refusal = refusal_for(result.decision);
        if (result.decision.code == "invalid_request_body")
            result.refusal->type = "invalid_request_error";
        if (request.body_encoded && result.refusal->status == 400) {
            result.refusal->status = 415;
            result.refusal->message +=
                " (it is sent with a Content-Encoding; send it uncompressed)";
        }
        return;
    }
    result.reservation = PolicyReservation(state_, result.decision.reservation_id);
    take_rule_controls(result, policy);
    result.reading = std::move(reading);
    if (!request.body || !body.views(*request.body)) return;  // not read: nothing to edit
    std::vector<MemberEdit> edits;
    if (result.decision.clamp_max_tokens)
        plan_output_cap(body, request.target, *result.decision.clamp_max_tokens, edits);
    if (result.reservation.held()) plan_stream_usage(body, request.target, edits);
    if (edits.empty()) return;
    // Planned on this very view of this text, so the splices land; were they not to, the
    // request is refused rather than sent other than decided.
    if (!write_member_edits(*request.body, body, edits)) {
        result.reservation.release();
        result.decision =
            policy_unavailable("the decision could not be applied to the request body");
        result.refusal = refusal_for(result.decision);
        return;
    }
    result.body_rewritten = true;
}

GateResult RequestGate::decide(const PolicyIdentity& identity, const PolicyRequest& request,
                               bool charge) {
    static UnchargedAccounting uncharged;
    GateResult result;
    result.summary.model = request.model;
    const std::shared_ptr<const Policy> policy = policies_.current();
    if (!policy) {
        result.decision = allow_without_policy();
        return result;
    }
    const auto now = std::chrono::system_clock::now();
    PolicyAccounting& accounting = charge ? state_ : uncharged;
    PendingDecision pending = decide_or_refuse(*policy, identity, request, now);
    result.decision = std::move(pending.decision);
    if (!result.summary.model.empty())
        result.summary.model = audit_safe_model(policy, result.summary.model);
    if (result.decision.allowed() && pending.admission) {
        if (accounting.answers_later()) {
            result.pending = std::make_shared<PendingAccounting>(
                PendingAccounting{std::move(*pending.admission), now, policy, {}, {}});
            result.pending->charge = charge;
            return result;
        }
        result.decision =
            apply_admission(std::move(result.decision), accounting.admit(*pending.admission, now));
    }
    conclude_decided(result, *policy, charge);
    return result;
}

void RequestGate::complete_decided(GateResult& result, const AdmissionResult& admitted) {
    const std::shared_ptr<PendingAccounting> pending = std::move(result.pending);
    result.pending.reset();
    result.decision = apply_admission(std::move(result.decision), admitted);
    conclude_decided(result, *pending->policy, pending->charge);
}

void RequestGate::conclude_decided(GateResult& result, const Policy& policy, bool charge) {
    if (!result.decision.allowed()) {
        result.refusal = refusal_for(result.decision);
        return;
    }
    if (charge) result.reservation = PolicyReservation(state_, result.decision.reservation_id);
    take_rule_controls(result, policy);
}

std::string RequestGate::audit_safe(std::string_view text) const {
    return audit_safe_text(policies_.current().get(), text);
}

}  // namespace sluice
