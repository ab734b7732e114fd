#include "agent/proxy/request_stages.h"

#include <array>

#include <boost/beast/http/error.hpp>

#include "agent/common/sha256_hex.h"
#include "agent/gate/prompt_excerpt.h"
#include "agent/proxy/proxy_context.h"

namespace sluice {

namespace {

ClientError oidc_refusal(const OidcAuthentication& auth) {
    if (auth.outcome == OidcOutcome::unavailable)
        return {503, "sluice_unavailable", "oidc_keys_unavailable", auth.reason};
    return {401, "authentication_error", "invalid_token", auth.reason};
}

nlohmann::json oidc_audit_json(const OidcIdentity& oidc) {
    return {{"outcome", "ok"},
            {"issuer", oidc.issuer},
            {"subject", oidc.subject},
            {"email", oidc.email},
            {"groups", oidc.groups}};
}

constexpr std::array<Stage, 4> kHeadStages{canonical_head, credential, upstream_key, audit_health};
constexpr std::array<Stage, 4> kBodyStages{policy, approval_hold, request_masking,
                                           recording_choice};

}  // namespace

ClientError parse_error_to_client_error(const boost::system::error_code& ec) {
    namespace http = boost::beast::http;
    if (ec == http::error::header_limit)
        return {431, "invalid_request_error", "request_header_too_large",
                "request header fields too large"};
    if (ec == http::error::body_limit)
        return {413, "invalid_request_error", "request_too_large",
                "request body exceeds the configured limit"};
    return {400, "invalid_request_error", "malformed_http",
            "malformed HTTP request: " + ec.message()};
}

std::span<const Stage> head_stages() { return kHeadStages; }
std::span<const Stage> body_stages() { return kBodyStages; }

StageResult run_stages(std::span<const Stage> stages, RequestFacts& facts,
                       const StageEnvironment& env) {
    facts.resume_at = stages.size();
    for (std::size_t i = 0; i < stages.size(); ++i) {
        if (StageResult refusal = stages[i](facts, env)) return refusal;
        if (facts.hold) break;
        if (facts.gate.awaiting_accounting()) {
            facts.resume_at = i + 1;
            break;
        }
    }
    return std::nullopt;
}

// From here on the request is in canonical form (target, Host, how its body is read): what the
// policy decides on is what the upstream receives.
StageResult canonical_head(RequestFacts& facts, const StageEnvironment& env) {
    auto admission = admit_request_head(facts.header, env.host, env.port, facts.body_pending);
    if (ClientError* refusal = std::get_if<ClientError>(&admission)) return std::move(*refusal);
    facts.head = std::get<AdmittedHead>(admission);
    facts.record.path = std::string(facts.header.target());
    if (facts.content_length && *facts.content_length > env.max_body_bytes)
        return parse_error_to_client_error(boost::beast::http::error::body_limit);
    return std::nullopt;
}

// Who is asking: the kernel's identity, plus a verified OIDC token when one is presented. A
// token that fails verification is refused, never downgraded to the kernel identity.
StageResult credential(RequestFacts& facts, const StageEnvironment& env) {
    facts.identity = &env.kernel_identity;
    const OidcAuthentication& auth = facts.oidc;
    if (auth.outcome == OidcOutcome::none) return std::nullopt;
    if (auth.outcome == OidcOutcome::ok) {
        facts.record.oidc = oidc_audit_json(*auth.identity);
        facts.token_identity = env.kernel_identity;
        facts.token_identity->oidc = auth.identity;
        facts.identity = &*facts.token_identity;
        return std::nullopt;
    }
    facts.record.oidc = nlohmann::json{{"outcome", std::string(to_string(auth.outcome))},
                                       {"error", std::string(to_string(auth.error))}};
    return oidc_refusal(auth);
}

StageResult upstream_key(RequestFacts& facts, const StageEnvironment& env) {
    if (env.upstream == nullptr)
        return ClientError{503, "sluice_unavailable", "upstream_not_configured",
                           "sluice has no upstream (and no API key) configured for " +
                               std::string(env.host) + "; ask the host's administrator"};
    facts.real_key = env.upstream->api_keys.key();
    if (!facts.real_key)
        return ClientError{503, "sluice_unavailable", "api_key_unavailable",
                           "sluice has no usable API key for " + std::string(env.host) +
                               "; ask the host's administrator (sluicectl status says why)"};
    return std::nullopt;
}

StageResult audit_health(RequestFacts&, const StageEnvironment& env) {
    if (!env.audit_failing_closed) return std::nullopt;
    return ClientError{503, "sluice_unavailable", "audit_unavailable",
                       "sluice cannot write its audit trail, so it is refusing new requests"};
}

namespace {

GateRequest gate_request(RequestFacts& facts) {
    GateRequest request;
    request.method = facts.header.method_string();
    request.target = facts.header.target();
    request.body = facts.body ? &*facts.body : nullptr;
    request.body_is_json = facts.body && facts.head.body == BodyReading::whole;
    request.body_encoded = facts.head.body_encoded;
    request.approval_granted = facts.approval_granted;
    return request;
}

// The decision as the audit records it and, when it refuses, the refusal.
StageResult record_decision(RequestFacts& facts, const StageEnvironment& env) {
    AuditRecord& record = facts.record;
    record.model = facts.gate.summary.model;
    record.stream = facts.gate.summary.stream;
    record.action = std::string(to_string(facts.gate.decision.action));
    record.rule = facts.gate.decision.rule;
    record.reason = facts.gate.decision.reason;
    if (!facts.gate.decision.allowed()) record.code = facts.gate.decision.code;
    record.skipped_controls = facts.gate.decision.skipped_controls;
    // A request that needs approval is approval_hold's to decide.
    if (!facts.gate.refusal || facts.gate.decision.action == PolicyAction::approval_required)
        return std::nullopt;
    ++env.counters.policy_refusals;
    return facts.gate.refusal;
}

}  // namespace

StageResult policy(RequestFacts& facts, const StageEnvironment& env) {
    facts.gate = env.gate.admit(*facts.identity, gate_request(facts));
    if (facts.gate.awaiting_accounting()) return std::nullopt;  // the run pauses for the store
    return record_decision(facts, env);
}

StageResult accounting_answered(RequestFacts& facts, const StageEnvironment& env,
                                const AdmissionResult& admitted) {
    env.gate.complete(facts.gate, gate_request(facts), admitted);
    return record_decision(facts, env);
}

std::string body_sha256(std::string_view body) { return sha256_hex(body); }

namespace {

// All but what is read from the body.
HeldRequest held_request_head(const RequestFacts& facts) {
    const PolicyIdentity& identity = *facts.identity;
    HeldRequest held;
    held.request_id = facts.record.id;
    ApprovalRequester& requester = held.requester;
    if (identity.uid) requester.uid = static_cast<uid_t>(*identity.uid);
    requester.user = identity.user;
    if (identity.oidc) {
        requester.oidc_issuer = identity.oidc->issuer;
        requester.oidc_subject = identity.oidc->subject;
    }
    requester.key = approval_identity_key(identity.uid, identity.oidc ? identity.oidc->issuer : "",
                                          requester.oidc_subject);
    requester.describe =
        nlohmann::json{{"exe", identity.exe}, {"unit", identity.unit}, {"cgroup", identity.cgroup}};
    if (!identity.container_id.empty()) requester.describe["container"] = identity.container_id;
    held.rule = facts.gate.decision.rule;
    held.reason = facts.gate.decision.reason;
    held.min_approvers = facts.gate.decision.min_approvers;
    held.method = std::string(facts.header.method_string());
    held.path = std::string(facts.header.target());
    held.model = facts.gate.summary.model;
    held.stream = facts.gate.summary.stream;
    return held;
}

// A body that streams through (an upload) has no hash: no retry is "identical" to it.
void describe_body(HeldRequest& held, const Policy* policy, std::string_view body) {
    held.body_hash = body_sha256(body);
    held.excerpt = masked_prompt_excerpt(policy, body, held.path);
}

}  // namespace

HeldRequest held_request(const RequestFacts& facts, const StageEnvironment& env) {
    HeldRequest held = held_request_head(facts);
    if (facts.body) describe_body(held, env.gate.policy().get(), *facts.body);
    return held;
}

std::function<HeldRequest()> held_request_later(const RequestFacts& facts,
                                                const StageEnvironment& env) {
    return [held = held_request_head(facts), body = facts.body, policy = env.gate.policy()] {
        HeldRequest out = held;
        if (body) describe_body(out, policy.get(), *body);
        return out;
    };
}

void grant_or_hold(RequestFacts& facts, const StageEnvironment& env) {
    HeldRequest held = held_request(facts, env);
    if (auto granted = env.approvals->take_grant(held.requester.key, held.rule, held.body_hash)) {
        facts.approval_granted = true;
        facts.approval_id = *granted;
        facts.record.approval =
            nlohmann::json{{"id", *granted}, {"event", "granted"}, {"rule", held.rule}};
        return;
    }
    facts.hold = std::move(held);
}

// A rule requires a person's approval. An approval already given (a `for` grant of this
// identity and rule, or a late approval of this very request) lets it on: the policy decides
// again with the approval met, so rate limits and budgets are charged now. Otherwise the
// request is held; nothing has been reserved or masked, and nothing has gone upstream.
StageResult approval_hold(RequestFacts& facts, const StageEnvironment& env) {
    if (facts.gate.decision.action != PolicyAction::approval_required) return std::nullopt;
    if (env.approvals == nullptr) {
        ++env.counters.policy_refusals;
        return facts.gate.refusal;
    }
    grant_or_hold(facts, env);
    if (facts.approval_granted) return policy(facts, env);
    return std::nullopt;
}

// Values the upstream must not see become placeholders, hashes or redactions; the session is
// kept for the answer. A body that cannot be masked is refused, never sent as is.
StageResult request_masking(RequestFacts& facts, const StageEnvironment& env) {
    facts.masking.reset();
    if (!facts.gate.masking) return std::nullopt;
    facts.masking = std::make_unique<masking::MaskingSession>(facts.gate.masking, env.host_secret);
    if (!facts.masking->masks_requests() || !facts.body || facts.body->empty()) return std::nullopt;
    if (facts.head.body_encoded)
        return ClientError{
            415, "invalid_request_error", "unsupported_content_encoding",
            "the request body is compressed, so it could not be checked for sensitive data; "
            "send it uncompressed"};
    // The gate's one reading of the body, unless the gate rewrote the body since.
    const masking::BodyStatus status =
        facts.masking->mask_request(*facts.body, facts.header.target(),
                                    facts.gate.body_rewritten ? nullptr : facts.gate.reading.get());
    if (status == masking::BodyStatus::not_json) {
        // The gate refuses such bodies first; masking never forwards what it cannot read.
        facts.record.action = "deny";
        return ClientError{
            400, "invalid_request_error", "invalid_request_body",
            "the request body is not strict JSON, so it could not be checked for sensitive data"};
    }
    if (status != masking::BodyStatus::failed) return std::nullopt;
    facts.record.action = "error";
    return ClientError{503, "sluice_unavailable", "masking_failed",
                       "the request could not be checked for sensitive data, so it was not sent"};
}

// A request is recorded only once the policy allowed it and masking has run: a refused request
// keeps its audit line alone, so no body masking never saw is ever written down.
StageResult recording_choice(RequestFacts& facts, const StageEnvironment& env) {
    facts.record_mode =
        env.recording && facts.gate.decision.allowed() ? facts.gate.record : RecordMode::none;
    return std::nullopt;
}

}  // namespace sluice
