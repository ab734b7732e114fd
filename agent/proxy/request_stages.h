// The admission of one intercepted request, as a list of stages. Each stage has one job: it
// reads the request's facts, fills in what it learns, and returns nothing to let the request go
// on or the ClientError that refuses it. The session (intercepted_session.cpp) runs the lists
// in order, refuses at one place, and keeps all I/O to itself: reading the header and body, the
// OIDC key fetch (its outcome is a fact stages read), the wait of a held request, the upstream
// exchange. Stages are plain functions of facts and environment, so they are tested table by
// table without sockets.
//
// To add a stage (a recorder, say): write it here with its one job, put it in the
// list where it belongs, and give it a table test. docs/architecture.md, "Adding a stage".
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "agent/approvals/approval_registry.h"
#include "agent/audit/audit_record.h"
#include "agent/common/openai_error.h"
#include "agent/gate/request_gate.h"
#include "agent/oidc/oidc_authenticator.h"
#include "agent/proxy/request_admission.h"
#include "agent/proxy/request_rewrite.h"
#include "agent/upstream/upstream_hosts.h"
#include "policy/masking/masking_session.h"
#include "policy/policy_model.h"

namespace sluice {

struct ProxyCounters;

// What the stages consult: where the request arrived and the daemon's services.
struct StageEnvironment {
    std::string_view host;  // the intercepted host (canonical SNI)
    uint16_t port = 443;    // the port it was intercepted on
    uint64_t max_body_bytes = 0;
    const PolicyIdentity& kernel_identity;
    UpstreamHost* upstream = nullptr;   // null: the config gives the host no upstream
    bool audit_failing_closed = false;  // failure_mode closed and the audit cannot be written
    RequestGate& gate;
    const std::string& host_secret;  // key for masking's keyed hashes
    ProxyCounters& counters;
    // Null: requests a rule requires approval for are refused (403 approval_required), not held.
    ApprovalRegistry* approvals = nullptr;
    bool recording = false;  // a recorder runs: rules' `record` applies
};

// What is known about the request, filled in as the stages run.
struct RequestFacts {
    RequestFacts(RequestHeader& header_, AuditRecord& record_) : header(header_), record(record_) {}

    RequestHeader& header;  // canonical once canonical_head has run
    AuditRecord& record;
    bool body_pending = false;  // body bytes still to come when the head was read
    std::optional<uint64_t> content_length;
    // The OIDC check of the presented credential (OidcOutcome::none when OIDC is off or the
    // credential is no token).
    OidcAuthentication oidc;

    AdmittedHead head;                                 // canonical_head
    std::optional<PolicyIdentity> token_identity;      // credential
    const PolicyIdentity* identity = nullptr;          // credential: whom policy sees
    std::shared_ptr<const std::string> real_key;       // upstream_key
    std::optional<std::string> body;                   // the session: the whole body, once read
    GateResult gate;                                   // policy
    std::unique_ptr<masking::MaskingSession> masking;  // request_masking (kept for the answer)
    // approval_hold: set, the request waits for a person (the run pauses; the session does the
    // waiting and, once approved, runs the body stages again with approval_granted).
    std::optional<HeldRequest> hold;
    bool approval_granted = false;
    std::string approval_id;                    // the approval that let it through
    RecordMode record_mode = RecordMode::none;  // recording_choice
    // Where run_stages stopped for a shared store's answer (facts.gate.awaiting_accounting()):
    // the session waits for it, hands it to accounting_answered, and goes on from here.
    std::size_t resume_at = 0;
};

using StageResult = std::optional<ClientError>;
using Stage = StageResult (*)(RequestFacts&, const StageEnvironment&);

// Before the body is read: a request refused on its head is never read further.
//   canonical_head  framing, target, Host, method, body reading, size limit (request_admission.h)
//   credential      a presented OIDC token is verified or refused, never ignored
//   upstream_key    the host has an upstream and its key is loaded
//   audit_health    with failure_mode closed, nothing goes out unaudited
std::span<const Stage> head_stages();
// Once the body is whole (at once when it has none or streams through):
//   policy           the decision (and the max-tokens clamp, budget reservation); with a
//                    shared store the run pauses until it answers (accounting_answered)
//   approval_hold    a rule that requires approval: a standing grant lets it on, otherwise it
//                    is held (facts.hold) and the run pauses until a person decides
//   request_masking  values the upstream must not see, per the deciding rule
//   recording_choice what is kept of the request beyond its audit line (the rule's `record`);
//                    last, so only what masking let through is ever recorded
std::span<const Stage> body_stages();

StageResult canonical_head(RequestFacts& facts, const StageEnvironment& env);
StageResult credential(RequestFacts& facts, const StageEnvironment& env);
StageResult upstream_key(RequestFacts& facts, const StageEnvironment& env);
StageResult audit_health(RequestFacts& facts, const StageEnvironment& env);
StageResult policy(RequestFacts& facts, const StageEnvironment& env);
StageResult approval_hold(RequestFacts& facts, const StageEnvironment& env);
StageResult request_masking(RequestFacts& facts, const StageEnvironment& env);
StageResult recording_choice(RequestFacts& facts, const StageEnvironment& env);

// The rest of the policy stage once a shared store (Redis) has answered for rate limits and
// budgets; the session waits for that answer on its own event loop, never in a stage.
StageResult accounting_answered(RequestFacts& facts, const StageEnvironment& env,
                                const AdmissionResult& admitted);

// Runs `stages` in order; the first refusal ends the run, and a hold (facts.hold) pauses it, as
// does a decision awaiting a shared store (facts.resume_at says where to go on).
StageResult run_stages(std::span<const Stage> stages, RequestFacts& facts,
                       const StageEnvironment& env);

// What approval_hold holds: the request as an approver sees it (a masked excerpt of the prompt,
// never the prompt), keyed for grants and retries.
HeldRequest held_request(const RequestFacts& facts, const StageEnvironment& env);
// The same, built only when called: a rule with tool calls needs it only if a call must wait
// for approval, and the masked prompt excerpt is dear (a copy of the body is kept instead).
std::function<HeldRequest()> held_request_later(const RequestFacts& facts,
                                                const StageEnvironment& env);
// For a request whose rule requires approval (env.approvals set): a standing grant lets it on
// (facts.approval_granted; the caller decides again with the approval met), otherwise it is
// held (facts.hold) for the session to wait on. approval_hold's step, shared with the Realtime
// API's upgrade, which is decided on its own request (realtime_relay.h).
void grant_or_hold(RequestFacts& facts, const StageEnvironment& env);
// SHA-256 of `body`, hex: a retry is the identical request when its body hash matches.
std::string body_sha256(std::string_view body);

// A refusal for a request the parser could not read (431, 413, 400).
ClientError parse_error_to_client_error(const boost::system::error_code& ec);

}  // namespace sluice
