// MaskingSession: what the proxy calls, once per intercepted request whose policy rule has a
// `masking` control. It owns the request's token vault (placeholders live exactly as long as
// the session) and the counts for the audit line.
//
//   MaskingSession masking(rule.masking, host_hash_key);
//   switch (masking.mask_request(body, path)) {          // before forwarding
//       case BodyStatus::masked: set Content-Length to body.size(); break;
//       case BodyStatus::failed: refuse (fail closed), audit; return;
//       case BodyStatus::not_json: refuse (400): a body masking cannot read is never sent;
//       case BodyStatus::unchanged: forward as is;
//   }
//   if (masking.masks_responses()) {
//       if (event stream) {
//           auto stream = masking.make_stream_masker(path);
//           for each upstream chunk: out.clear(); ok = stream->feed(chunk, out); write out;
//                                    if (!ok) end the response (error event already in out);
//           at upstream end: out.clear(); stream->finish(out); write out;
//       } else {
//           masking.mask_response(body, path); set Content-Length (failed → 502, audited)
//       }
//   }
//   audit["masking"] = masking.summary();
//
// Record the masked bodies, never the originals. Not thread-safe: one session per exchange,
// used from that connection's strand. Stream maskers borrow the session: keep it alive longer.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "policy/masking/masking_control.h"
#include "policy/masking/realtime_event_masker.h"
#include "policy/masking/request_masker.h"
#include "policy/masking/response_masker.h"
#include "policy/masking/sse_stream_masker.h"
#include "policy/masking/text_masker.h"
#include "policy/masking/token_vault.h"

namespace sluice::masking {

class MaskingSession {
public:
    // `hash_key`: the host's secret for keyed hashes (any length; keep it stable across restarts
    // for stable hashes). `control` must not be null.
    MaskingSession(std::shared_ptr<const MaskingControl> control, std::string hash_key);

    bool masks_requests() const { return !control_->enabled(Direction::request).empty(); }
    // Responses need masking or token restoration.
    bool masks_responses() const {
        return !control_->enabled(Direction::response).empty() || control_->restores_tokens();
    }
    // What the client gets of an answer holds the request's values again (token placeholders
    // restored), so it may not be recorded; without restoration it is the masked answer.
    bool restores_tokens() const { return control_->restores_tokens(); }

    // Rewrites a request body in place (see request_masker.h for which values, and BodyStatus).
    // `reading`: the gate's reading of exactly this body, when it has one (else it is read).
    [[nodiscard]] BodyStatus mask_request(std::string& body, std::string_view path,
                                          const RequestReading* reading = nullptr);
    // Rewrites a non-streamed response body in place, restoring this session's placeholders.
    [[nodiscard]] BodyStatus mask_response(std::string& body, std::string_view path);
    // An incremental masker for a text/event-stream response to `path`.
    std::unique_ptr<SseStreamMasker> make_stream_masker(std::string_view path,
                                                        SseMaskerLimits limits = {});

    // A masker for the events of a Realtime API session (realtime_event_masker.h).
    std::unique_ptr<RealtimeEventMasker> make_realtime_masker();

    // For the audit line: {"request":{"email":2},"response":{"phone":1},"restored":2,
    // "skipped":["request: not JSON"],"failure":"..."} (empty members omitted). Entity names,
    // counts and reasons only, never a value.
    nlohmann::json summary() const;

    const MaskStats& stats() const { return stats_; }

private:
    std::shared_ptr<const MaskingControl> control_;
    std::string hash_key_;
    TokenVault vault_;
    MaskStats stats_;
    TextMasker masker_;
};

}  // namespace sluice::masking
