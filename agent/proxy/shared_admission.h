// Waiting for a shared store's (Redis) answer to a decision on the worker's own event loop:
// the round trip runs there while other connections go on, and the coroutine resumes with the
// answer. Both the HTTP request path and the realtime relay wait here.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "agent/gate/request_gate.h"

namespace sluice {

// `pending.awaiting_accounting()` must hold. The answer is posted, so a store that answers at
// once does not resume the caller inside the call.
boost::asio::awaitable<AdmissionResult> shared_admission(RequestGate& gate,
                                                         const GateResult& pending);

// RequestGate::decide, with a charged decision's shared-store round trip waited for here.
boost::asio::awaitable<GateResult> decide_on_loop(RequestGate& gate, const PolicyIdentity& identity,
                                                  const PolicyRequest& request, bool charge);

}  // namespace sluice
