#include "agent/gate/request_gate.h"

#include <chrono>

#include "agent/gate/request_body_edit.h"
#include "policy/policy_engine.h"
#include "policy/prompt_text.h"
#include "policy/request_summary.h"

namespace sluice {

namespace {

// Larger JSON bodies are not parsed for policy: their model and prompt count as unreadable
// and each control follows its fail_mode (closed by default).
constexpr size_t kPolicyScanMaxBytes = 64 * 1024 * 1024;

PolicyRequest describe(const GateRequest& request, const nlohmann::json* body) {
    PolicyRequest out;
    out.method = std::string(request.method);
    out.path = std::string(request.target);
    if (!request.body_is_json) return out;
    if (!body || !body->is_object()) {
        out.body_readable = false;
        return out;
    }
    const RequestSummary summary = summarize_request(*body);
    out.model = summary.model;
    out.stream = summary.stream;
    if (summary.max_output_tokens >= 0) out.max_output_tokens = summary.max_output_tokens;
    out.texts = extract_prompt_texts(*body, request.target);
    out.estimated_prompt_tokens = estimate_prompt_tokens(out.texts);
    return out;
}

std::shared_ptr<const masking::MaskingControl> masking_of(const Policy& policy, const std::string& rule_name) {
    for (const auto& rule : policy.rules)
        if (rule.name == rule_name) return rule.masking;
    return nullptr;  // "default" or no policy: nothing to mask
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
    if (decision.retry_after_s) error.retry_after_s = static_cast<unsigned>(std::max<int64_t>(1, *decision.retry_after_s));
    return error;
}

GateResult RequestGate::admit(const PolicyIdentity& identity, const GateRequest& request) {
    GateResult result;
    const std::shared_ptr<const Policy> policy = policies_.current();
    if (!policy) {
        result.decision = allow_without_policy();
        return result;
    }
    std::optional<nlohmann::json> body;
    if (request.body && request.body_is_json && request.body->size() <= kPolicyScanMaxBytes) {
        body = nlohmann::json::parse(*request.body, nullptr, false);
        if (body->is_discarded()) body.reset();
    }
    try {
        const PolicyRequest described = describe(request, body ? &*body : nullptr);
        result.decision = evaluate(*policy, identity, described, state_, std::chrono::system_clock::now());
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
        return result;
    }
    result.reservation = PolicyReservation(state_, result.decision.reservation_id);
    result.masking = masking_of(*policy, result.decision.rule);
    if (body) {
        bool changed = false;
        if (result.decision.clamp_max_tokens)
            changed |= set_max_output_tokens(*body, request.target, *result.decision.clamp_max_tokens);
        if (result.reservation.held()) changed |= request_stream_usage(*body, request.target);
        if (changed) {
            *request.body = body->dump();
            result.body_rewritten = true;
        }
    }
    return result;
}

}  // namespace sluice
