#include "agent/gate/request_gate.h"

#include <chrono>

#include "agent/gate/request_body_edit.h"
#include "policy/output_bound.h"
#include "policy/policy_engine.h"
#include "policy/prompt_text.h"
#include "policy/request_summary.h"

namespace sluice {

namespace {

// Larger JSON bodies are not parsed for policy: their model and prompt count as unreadable
// and each control follows its fail_mode (closed by default).
constexpr size_t kPolicyScanMaxBytes = 64 * 1024 * 1024;

PolicyRequest describe(const GateRequest& request, const nlohmann::json* body,
                       const RequestSummary& summary) {
    PolicyRequest out;
    out.method = std::string(request.method);
    out.path = std::string(request.target);
    if (!request.body_is_json) return out;
    if (!body || !body->is_object()) {
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
    out.estimated_prompt_tokens = estimate_prompt_tokens(out.texts);
    return out;
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
    // Parsed once here for policy, the body edits and the audit's model/stream.
    std::optional<nlohmann::json> body;
    if (readable) {
        body = nlohmann::json::parse(*request.body, nullptr, false);
        if (body->is_discarded()) body.reset();
    }
    if (body) result.summary = summarize_request(*body);
    try {
        const PolicyRequest described = describe(request, body ? &*body : nullptr, result.summary);
        result.decision =
            evaluate(*policy, identity, described, state_, std::chrono::system_clock::now());
    } catch (const std::exception& e) {
        // Fail closed: a policy that cannot be evaluated refuses the request.
        result.decision = PolicyDecision{};
        result.decision.rule = "";
        result.decision.code = "policy_unavailable";
        result.decision.http_status = 503;
        result.decision.reason = std::string("policy could not be evaluated: ") + e.what();
    }
    if (!result.decision.allowed()) {
        result.refusal = refusal_for(result.decision);
        if (request.body_encoded && result.refusal->status == 400) {
            result.refusal->status = 415;
            result.refusal->message += " (it is sent with a Content-Encoding; send it uncompressed)";
        }
        return result;
    }
    result.reservation = PolicyReservation(state_, result.decision.reservation_id);
    if (const auto index = result.decision.rule_index; index && *index < policy->rules.size())
        result.masking = policy->rules[*index].masking;
    if (body) {
        bool changed = false;
        if (result.decision.clamp_max_tokens)
            changed |=
                set_max_output_tokens(*body, request.target, *result.decision.clamp_max_tokens);
        if (result.reservation.held()) changed |= request_stream_usage(*body, request.target);
        if (changed) {
            *request.body = body->dump();
            result.body_rewritten = true;
        }
    }
    return result;
}

}  // namespace sluice
