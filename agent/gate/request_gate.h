// The policy decision point on the data path: after a request's body is read and before
// anything goes upstream, describe the request, evaluate the policy in force, and apply what
// the decision says to the body (max tokens clamp; usage reporting for metered streams).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agent/common/openai_error.h"
#include "agent/gate/policy_reservation.h"
#include "agent/gate/policy_store.h"
#include "policy/json_view.h"
#include "policy/policy_accounting.h"
#include "policy/policy_model.h"
#include "policy/policy_state.h"  // the default accounting; callers construct the gate with it
#include "policy/request_reading.h"
#include "policy/request_summary.h"

namespace sluice {

struct GateRequest {
    std::string_view method;
    std::string_view target;  // request-target, query included
    // The whole body when it was buffered (JSON); nullptr when it streams through (uploads).
    // Rewritten in place when the decision changes it.
    std::string* body = nullptr;
    // The endpoint takes JSON, so the body is read as JSON whatever its Content-Type says.
    bool body_is_json = false;
    // The body carries a Content-Encoding: no control can read it (refusals say 415).
    bool body_encoded = false;
    // A person approved this request: the rule's require_approval is met (docs/approvals.md).
    bool approval_granted = false;
};

// A decision waiting for a shared store's answer (request_gate.cpp).
struct PendingAccounting;

struct GateResult {
    RequestSummary summary;  // model, stream, max tokens of a JSON body (json_ok false otherwise)
    PolicyDecision decision;
    std::optional<ClientError> refusal;  // set: answer with this, send nothing upstream
    PolicyReservation reservation;       // settle/release once the answer is known
    bool body_rewritten = false;
    // The deciding rule's masking control; null when it masks nothing.
    std::shared_ptr<const masking::MaskingControl> masking;
    // The deciding rule's tool_calls control; null when the answer's tool calls all pass.
    std::shared_ptr<const ToolCallControl> tool_calls;
    // What the deciding rule records of this request (none when refused or no rule allowed it).
    RecordMode record = RecordMode::none;
    // The one reading of the body the decision was made on (request_reading.h), with its texts
    // when a control scans them; masking reuses it unless the body was rewritten since. Null
    // when the body was not read (no policy, not JSON, encoded, over the scan limit).
    std::shared_ptr<const RequestReading> reading;
    // Set while the accounting (a shared store) has yet to answer: the caller waits for
    // RequestGate::admit_later on its event loop and hands the answer to RequestGate::complete.
    std::shared_ptr<PendingAccounting> pending;

    bool awaiting_accounting() const { return pending != nullptr; }
};

class RequestGate {
public:
    RequestGate(PolicyStore& policies, PolicyAccounting& state)
        : policies_(policies), state_(state) {}

    // The decision. With an accounting that answers later (answers_later()) a request that
    // takes from rate limits or budgets comes back awaiting_accounting(): nothing else is
    // decided or applied to the body until complete().
    GateResult admit(const PolicyIdentity& identity, const GateRequest& request);
    // Asks the accounting for `result`'s admission; `done` runs on the calling thread's loop.
    void admit_later(const GateResult& result, PolicyAccounting::AdmitCallback done);
    // Finishes `result` with the accounting's answer; `request` is the one given to admit.
    void complete(GateResult& result, const GateRequest& request, const AdmissionResult& admitted);
    // A decision on a request described directly (a Realtime API session's open, its
    // session.update, items and responses: policy/realtime/realtime_event.h). `charge`: count
    // it against rate limits and reserve it against budgets; otherwise decide only. Charged,
    // with an accounting that answers later, it comes back awaiting_accounting() as admit()
    // does: the caller waits for admit_later on its own loop and hands the answer to
    // complete_decided, so no proxy thread blocks on a shared store.
    GateResult decide(const PolicyIdentity& identity, const PolicyRequest& request, bool charge);
    void complete_decided(GateResult& result, const AdmissionResult& admitted);
    // `text` as the audit may keep it under the current policy (audit_text.h).
    std::string audit_safe(std::string_view text) const;
    // The policy in force (what a held request's excerpt is masked by).
    std::shared_ptr<const Policy> policy() const { return policies_.current(); }

private:
    // What follows the decision: the refusal, or the reservation, the rule's controls and the
    // body edits.
    void conclude(GateResult& result, const GateRequest& request, const Policy& policy,
                  const JsonView& body, std::shared_ptr<RequestReading> reading);
    void conclude_decided(GateResult& result, const Policy& policy, bool charge);

    PolicyStore& policies_;
    PolicyAccounting& state_;
};

// The decision as an OpenAI-shaped error (403 deny/approval, 429 + Retry-After rate/budget).
ClientError refusal_for(const PolicyDecision& decision);

}  // namespace sluice
