// A Realtime API session (docs/realtime.md): a WebSocket upgrade on an intercepted host,
// relayed to the upstream with Boost.Beast's websocket implementation on both sides.
//
// The intercepted session admits the upgrade like any request (canonical head, credential,
// upstream key, audit health), decides it once on its identity, endpoint and the model its URL
// names (a refusal is an HTTP answer in OpenAI's shape: the upgrade never completes), and hands
// it here. Then:
//   - the upstream handshake goes first, with the client's fields (OpenAI-Beta, subprotocols)
//     minus its credentials: the real key in Authorization, and the `openai-insecure-api-key.*`
//     subprotocol, which carries a browser client's key, removed, never forwarded; only once the
//     upstream accepted is the client's upgrade answered (101, with the upstream's subprotocol);
//   - messages are relayed each way as they arrive; close codes and reasons
//     are relayed; a ping is answered on its hop and sent on with its payload, and a hop idle
//     for kRealtimeIdleTimeout is pinged, then closed;
//   - client text events are decided (session.update changing the model or tools, text items,
//     response.create counted and reserved) and masked; a refusal closes the session with 1008
//     and its reason, and the event reaches nobody;
//   - upstream text events are masked (deltas across frames); response.done settles its
//     response's reservation and writes a "realtime_response" audit line;
//   - binary messages, and text no control reads, go on piece by piece as they arrive; a text
//     event a control reads (policy, masking) is read whole first;
//   - with the rule's `record`, the session's events are recorded (realtime_recording.h) and
//     its audit line names the recording;
//   - at the end, one audit line for the session.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "agent/audit/audit_record.h"
#include "agent/gate/request_gate.h"
#include "agent/proxy/proxy_context.h"
#include "agent/proxy/request_rewrite.h"
#include "agent/upstream/upstream_pool.h"
#include "policy/masking/masking_session.h"

namespace sluice {

struct RealtimeUpgrade {
    TlsStream& client;
    const RequestHeader& request;  // canonical: what was decided is what goes upstream
    ProxyContext& context;
    UpstreamPool& pool;
    UpstreamEndpoint upstream;
    std::shared_ptr<const std::string> real_key;
    const PolicyIdentity& identity;
    AuditRecord record;  // the session's line: identity, path, model and the open decision
    GateResult open;     // the open decision (allowed); its reservation counts the session
    std::unique_ptr<masking::MaskingSession> masking;  // the deciding rule's, if it masks
    RecordMode record_mode = RecordMode::none;  // the deciding rule's `record`, when recording
    std::string connection;                     // the client connection's id, for the recording
    // A person approved the session's opening (require_approval): the approval covers its
    // events, decided with it met.
    bool approval_granted = false;
};

// Serves the session until either side closes; writes its audit lines. The client's
// connection is finished afterwards (never reused for HTTP).
boost::asio::awaitable<void> relay_realtime(RealtimeUpgrade upgrade);

}  // namespace sluice
