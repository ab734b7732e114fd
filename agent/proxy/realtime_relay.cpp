#include "agent/proxy/realtime_relay.h"

// The teardown for TlsStream must be declared before Beast's websocket templates use it.
#include "agent/proxy/websocket_teardown.h"

#include <chrono>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "agent/audit/audit_writer.h"
#include "agent/common/limits.h"
#include "agent/common/openai_error.h"
#include "agent/proxy/realtime_recording.h"
#include "agent/proxy/shared_admission.h"
#include "agent/recording/session_recorder.h"
#include "policy/ascii_case.h"
#include "policy/budget_ledger.h"
#include "policy/realtime/realtime_event.h"
#include "policy/realtime/realtime_event_type.h"

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;
using WebSocket = websocket::stream<TlsStream&>;

namespace {

inline auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

// A browser client cannot set Authorization on a WebSocket, so it sends its key as this
// subprotocol; it is the client's key, so it never goes upstream (the real key does).
constexpr std::string_view kKeyProtocolPrefix = "openai-insecure-api-key.";
// RFC 6455 §5.5: a close frame's payload is at most 125 bytes, two of them the code.
constexpr std::size_t kCloseReasonMaxBytes = 123;
// Decisions taken mid-session kept for the session's audit line.
constexpr std::size_t kAuditedDecisionsMax = 64;

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool is_key_protocol(std::string_view protocol) {
    return protocol.size() >= kKeyProtocolPrefix.size() &&
           ascii_iequals(protocol.substr(0, kKeyProtocolPrefix.size()), kKeyProtocolPrefix);
}

// The client's offered subprotocols, every Sec-WebSocket-Protocol field joined, without the
// one that carries its key.
std::string forwarded_protocols(const RequestHeader& request) {
    std::string out;
    for (const auto& field : request) {
        if (field.name() != http::field::sec_websocket_protocol) continue;
        std::string_view list = field.value();
        while (!list.empty()) {
            const auto comma = list.find(',');
            const std::string_view protocol = trim(list.substr(0, comma));
            if (!protocol.empty() && !is_key_protocol(protocol)) {
                if (!out.empty()) out += ", ";
                out.append(protocol);
            }
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
    }
    return out;
}

// Fields not copied to the upstream's handshake: Beast writes the handshake's own, the
// client's credentials never leave, and hop-by-hop fields describe the client's hop.
bool kept_from_client(const http::fields::value_type& field) {
    switch (field.name()) {
        case http::field::host:
        case http::field::upgrade:
        case http::field::connection:
        case http::field::sec_websocket_key:
        case http::field::sec_websocket_version:
        case http::field::sec_websocket_extensions:
        case http::field::sec_websocket_protocol:
        case http::field::authorization:
        case http::field::proxy_authorization:
        case http::field::keep_alive:
        case http::field::te:
        case http::field::trailer:
        case http::field::transfer_encoding:
        case http::field::content_length:
        case http::field::expect:
        case http::field::accept_encoding:
        case http::field::cookie:
            return false;
        case http::field::unknown:
            return !ascii_iequals(field.name_string(), "api-key");
        default:
            return true;
    }
}

// A close reason cut to what a close frame holds, at a character boundary.
std::string close_reason_text(std::string_view text) {
    if (text.size() <= kCloseReasonMaxBytes) return std::string(text);
    std::size_t cut = kCloseReasonMaxBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return std::string(text.substr(0, cut));
}

struct Direction {
    uint64_t frames = 0;
    uint64_t bytes = 0;
    uint64_t binary_frames = 0;
    uint64_t audio_events = 0;
    nlohmann::json to_json() const {
        return {{"frames", frames},
                {"bytes", bytes},
                {"binary_frames", binary_frames},
                {"audio_events", audio_events}};
    }
};

double ms_since(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

}  // namespace

class RealtimeRelay {
public:
    explicit RealtimeRelay(RealtimeUpgrade& upgrade)
        : up_(upgrade),
          client_ws_(upgrade.client),
          started_(Clock::now()),
          model_(upgrade.record.model) {
        if (up_.masking) {
            masker_ = up_.masking->make_realtime_masker();
            masks_responses_ = up_.masking->masks_responses();
            records_masked_answer_ = masks_responses_ && !up_.masking->restores_tokens();
        }
        if (up_.record_mode != RecordMode::none && up_.context.recorder)
            recording_.emplace(up_.record_mode, up_.connection, up_.request, started_);
    }

    net::awaitable<void> run() {
        AuditRecord& record = up_.record;
        record.kind = "forwarded";
        up_.context.audit.write_record(record);
        record.kind = "request";
        if (!co_await open_upstream()) co_return;
        if (!co_await accept_client()) co_return;
        relay_pings(client_ws_, *upstream_ws_);
        relay_pings(*upstream_ws_, client_ws_);
        // The session counts once against rate limits; its responses are reserved one by one.
        up_.open.reservation.settle(UsageObject{R"({"input_tokens":0,"output_tokens":0})"});

        const auto executor = up_.client.get_executor();
        bool upstream_done = false;
        net::steady_timer both_done(executor, Clock::time_point::max());
        net::co_spawn(executor, pump_from_upstream(), [&](std::exception_ptr error) {
            if (error) note_error("upstream relay ended unexpectedly");
            upstream_done = true;
            both_done.cancel();
        });
        try {
            co_await pump_from_client();
        } catch (const std::exception& e) {
            note_error(std::string("client relay ended unexpectedly: ") + e.what());
            abort_both();
        }
        while (!upstream_done) {
            beast::error_code ec;
            co_await both_done.async_wait(use_ec(ec));
        }
        finish_session();
    }

private:
    // Dials the upstream and completes its WebSocket handshake (one retry on a fresh
    // connection when a pooled one turned out closed). False: the client has been answered.
    net::awaitable<bool> open_upstream() {
        beast::error_code ec;
        for (int attempt = 0;; ++attempt) {
            UpstreamLease lease = co_await up_.pool.acquire(up_.upstream);
            if (!lease.stream) {
                up_.record.error = lease.error;
                const ClientError error =
                    lease.failure == UpstreamFailure::timeout
                        ? ClientError{504, "upstream_error", "upstream_timeout",
                                      "timed out reaching " + up_.upstream.host}
                        : ClientError{502, "upstream_error", "upstream_unreachable",
                                      "could not reach " + up_.upstream.host};
                co_await answer_http(error, 0);
                co_return false;
            }
            upstream_stream_ = std::move(lease.stream);
            up_.record.upstream_connection_reused = lease.reused;
            upstream_ws_.emplace(*upstream_stream_);
            configure(*upstream_ws_,
                      websocket::stream_base::timeout{kRealtimeHandshake(), kRealtimeIdle(), true});
            const std::string protocols = forwarded_protocols(up_.request);
            upstream_ws_->set_option(
                websocket::stream_base::decorator([this, protocols](websocket::request_type& req) {
                    for (const auto& field : up_.request)
                        if (kept_from_client(field)) req.insert(field.name_string(), field.value());
                    if (!protocols.empty()) req.set(http::field::sec_websocket_protocol, protocols);
                    std::string authorization = "Bearer ";
                    authorization.append(*up_.real_key);
                    req.set(http::field::authorization, authorization);
                }));
            const std::string host(up_.request[http::field::host]);
            const std::string target(up_.request.target());
            upstream_response_ = {};
            co_await upstream_ws_->async_handshake(upstream_response_, host, target, use_ec(ec));
            if (!ec) {
                up_.record.upstream_status = upstream_response_.result_int();
                co_return true;
            }
            upstream_ws_.reset();
            upstream_stream_.reset();
            if (ec == websocket::error::upgrade_declined) break;
            if (lease.reused && attempt == 0) continue;
            break;
        }
        if (ec == websocket::error::upgrade_declined && upstream_response_.result_int() != 0) {
            // The upstream answered without upgrading (a 401, a 404, a 429): the client gets
            // that answer, as for any request.
            up_.record.upstream_status = upstream_response_.result_int();
            up_.record.error = "upstream declined the WebSocket upgrade";
            co_await answer_upstream_refusal();
            co_return false;
        }
        up_.record.error = "upstream WebSocket handshake: " + ec.message();
        const ClientError error{502, "upstream_error", "upstream_unreachable",
                                "could not open a realtime session with " + up_.upstream.host};
        co_await answer_http(error, 0);
        co_return false;
    }

    net::awaitable<bool> accept_client() {
        configure(client_ws_,
                  websocket::stream_base::timeout{kRealtimeHandshake(), kRealtimeIdle(), true});
        const std::string chosen(upstream_response_[http::field::sec_websocket_protocol]);
        const std::string request_id(upstream_response_["x-request-id"]);
        client_ws_.set_option(websocket::stream_base::decorator(
            [chosen, request_id](websocket::response_type& response) {
                if (!chosen.empty()) response.set(http::field::sec_websocket_protocol, chosen);
                if (!request_id.empty()) response.set("x-request-id", request_id);
            }));
        http::request<http::empty_body> request{RequestHeader(up_.request)};
        beast::error_code ec;
        co_await client_ws_.async_accept(request, use_ec(ec));
        if (!ec) {
            up_.record.status = 101;
            co_return true;
        }
        up_.record.status = 400;
        up_.record.action = "error";
        up_.record.error = "client WebSocket upgrade: " + ec.message();
        const websocket::close_reason going_away{websocket::close_code::going_away};
        co_await upstream_ws_->async_close(going_away, use_ec(ec));
        finish_session();
        co_return false;
    }

    static std::chrono::steady_clock::duration kRealtimeHandshake() {
        return limits::kRealtimeHandshakeDeadline;
    }
    static std::chrono::steady_clock::duration kRealtimeIdle() {
        return limits::kRealtimeIdleTimeout;
    }

    static void configure(WebSocket& ws, websocket::stream_base::timeout timeout) {
        ws.set_option(timeout);
        ws.read_message_max(limits::kRealtimeMaxMessageBytes);
        ws.auto_fragment(false);  // each piece leaves as the one frame it was written as
    }

    // A ping from one side is answered there by Beast and sent on to the other side with the
    // same payload (one at a time: a ping while the last is still going out is answered only).
    // The flag is shared: a ping's completion may run after the relay has ended.
    static void relay_pings(WebSocket& from, WebSocket& to) {
        auto pending = std::make_shared<bool>(false);
        from.control_callback(
            [&to, pending](websocket::frame_type kind, beast::string_view payload) {
                if (kind != websocket::frame_type::ping || *pending) return;
                *pending = true;
                websocket::ping_data data;
                data.assign(payload.data(), payload.size());
                to.async_ping(data, [pending](beast::error_code) { *pending = false; });
            });
    }

    enum class Relayed { whole, read_failed, write_failed };

    // Relays the message whose first piece is in `buffer` piece by piece: each piece goes on as
    // one frame as soon as it has arrived (the last with FIN), so audio and uninspected events
    // keep flowing at the pace they arrive. A text message's text is gathered in `text` for the
    // accounting and the recording, which read it once it has gone on whole.
    net::awaitable<Relayed> relay_as_it_arrives(WebSocket& from, WebSocket& to,
                                                beast::flat_buffer& buffer, bool from_client,
                                                std::string& text, beast::error_code& ec) {
        const bool binary = from.got_binary();
        Direction& counts = from_client ? from_client_ : from_upstream_;
        to.binary(binary);
        for (;;) {
            const bool last = from.is_message_done();
            const std::string_view piece(static_cast<const char*>(buffer.data().data()),
                                         buffer.size());
            counts.bytes += piece.size();
            if (!binary)
                text.append(piece);
            else if (recording_)
                recording_->on_binary_piece(from_client, piece, last);
            co_await to.async_write_some(last, buffer.data(), use_ec(ec));
            if (ec) co_return Relayed::write_failed;
            if (last) co_return Relayed::whole;
            buffer.clear();
            co_await from.async_read_some(buffer, limits::kRealtimeRelayPieceBytes, use_ec(ec));
            if (ec) co_return Relayed::read_failed;
        }
    }

    net::awaitable<void> pump_from_client() {
        beast::flat_buffer buffer;
        std::string text;
        for (;;) {
            beast::error_code ec;
            buffer.clear();
            co_await client_ws_.async_read_some(buffer, limits::kRealtimeRelayPieceBytes,
                                                use_ec(ec));
            if (ec) {
                co_await on_client_read_error(ec);
                co_return;
            }
            ++from_client_.frames;
            const bool binary = client_ws_.got_binary();
            if (binary) ++from_client_.binary_frames;
            // Checked per message: a policy may be put in force mid-session.
            const bool inspected = up_.context.gate.policy() != nullptr || masker_;
            if (binary || !inspected) {
                text.clear();
                const Relayed relayed =
                    co_await relay_as_it_arrives(client_ws_, *upstream_ws_, buffer, true, text, ec);
                if (relayed == Relayed::read_failed) {
                    co_await on_client_read_error(ec);
                    co_return;
                }
                if (relayed == Relayed::whole && !binary) note_uninspected_client_event(text);
            } else {
                // A text event a control must read whole before any of it goes on.
                if (!client_ws_.is_message_done())
                    co_await client_ws_.async_read(buffer, use_ec(ec));
                if (ec) {
                    co_await on_client_read_error(ec);
                    co_return;
                }
                from_client_.bytes += buffer.size();
                std::string message = beast::buffers_to_string(buffer.data());
                std::optional<Refusal> refusal = co_await admit_client_event(message);
                if (refusal) {
                    co_await end_by_sluice(std::move(*refusal));
                    co_return;
                }
                if (recording_) recording_->on_text_event(true, message);  // as it went: masked
                upstream_ws_->text(true);
                co_await upstream_ws_->async_write(net::buffer(message), use_ec(ec));
            }
            if (ec) {
                note_error("writing to the upstream failed: " + ec.message());
                const websocket::close_reason reason{websocket::close_code::internal_error,
                                                     "sluice: the upstream connection failed"};
                co_await close_client(reason);
                co_return;
            }
        }
    }

    // What the audit counts of a client event no control read (no policy, no masking).
    void note_uninspected_client_event(std::string_view message) {
        if (recording_) recording_->on_text_event(true, message);
        const std::string_view type = realtime::event_type(message);
        if (type == "input_audio_buffer.append") ++from_client_.audio_events;
        if (type == "response.create") ++responses_asked_;
        if (type != "session.update") return;
        const realtime::ClientEvent event = realtime::read_client_event(message);
        if (event.model) model_ = *event.model;
    }

    net::awaitable<void> on_client_read_error(const beast::error_code& ec) {
        if (ec == websocket::error::closed) {
            const websocket::close_reason reason = client_ws_.reason();
            note_close("client", reason);
            co_await close_upstream(reason);
            co_return;
        }
        if (ec == websocket::error::message_too_big) {
            note_close("sluice", {websocket::close_code::too_big, "message over the size limit"});
            note_error("client message over " + std::to_string(limits::kRealtimeMaxMessageBytes) +
                       " bytes");
        } else if (!client_closing_) {
            note_error("client connection: " + ec.message());
        }
        const websocket::close_reason going_away{websocket::close_code::going_away};
        co_await close_upstream(going_away);
    }

    net::awaitable<void> pump_from_upstream() {
        beast::flat_buffer buffer;
        std::string text;
        std::vector<std::string> outgoing;
        for (;;) {
            beast::error_code ec;
            buffer.clear();
            co_await upstream_ws_->async_read_some(buffer, limits::kRealtimeRelayPieceBytes,
                                                   use_ec(ec));
            if (ec) {
                co_await on_upstream_read_error(ec);
                co_return;
            }
            ++from_upstream_.frames;
            const bool binary = upstream_ws_->got_binary();
            if (binary) ++from_upstream_.binary_frames;
            if (binary || !masks_responses_) {
                text.clear();
                const Relayed relayed = co_await relay_as_it_arrives(*upstream_ws_, client_ws_,
                                                                     buffer, false, text, ec);
                if (relayed == Relayed::read_failed) {
                    co_await on_upstream_read_error(ec);
                    co_return;
                }
                if (relayed == Relayed::whole && !binary) on_upstream_event(text);
            } else {
                if (!upstream_ws_->is_message_done())
                    co_await upstream_ws_->async_read(buffer, use_ec(ec));
                if (ec) {
                    co_await on_upstream_read_error(ec);
                    co_return;
                }
                from_upstream_.bytes += buffer.size();
                const std::string_view message(static_cast<const char*>(buffer.data().data()),
                                               buffer.size());
                on_upstream_event(message);
                client_ws_.text(true);
                outgoing.clear();
                if (!masker_->mask_server_event(message, outgoing)) {
                    // Named, not braced into the co_await: GCC 12 frees such temporaries twice.
                    Refusal refusal{
                        {websocket::close_code::internal_error,
                         "sluice: an upstream event could not be checked for sensitive data"},
                        "masking_failed",
                        masker_->failure()};
                    co_await end_by_sluice(std::move(refusal));
                    co_return;
                }
                for (const std::string& event : outgoing) {
                    if (recording_ && records_masked_answer_)
                        recording_->on_text_event(false, event);
                    co_await client_ws_.async_write(net::buffer(event), use_ec(ec));
                    if (ec) break;
                }
            }
            if (ec) {
                if (!client_closing_) note_error("writing to the client failed: " + ec.message());
                const websocket::close_reason going_away{websocket::close_code::going_away};
                co_await close_upstream(going_away);
                co_return;
            }
        }
    }

    net::awaitable<void> on_upstream_read_error(const beast::error_code& ec) {
        if (ec == websocket::error::closed) {
            const websocket::close_reason reason = upstream_ws_->reason();
            note_close("upstream", reason);
            co_await close_client(reason);
            co_return;
        }
        if (!upstream_closing_) note_error("upstream connection: " + ec.message());
        const websocket::close_reason failed{websocket::close_code::internal_error,
                                             "sluice: the upstream connection failed"};
        co_await close_client(failed);
    }

    // What the upstream's events mean for accounting: response.done settles its response.
    void on_upstream_event(std::string_view message) {
        // As the upstream sent it (request values masked there), unless what the client gets is
        // masked and holds no restored value: then that (below), so not even a value the model
        // wrote is kept.
        if (recording_ && !records_masked_answer_) recording_->on_text_event(false, message);
        if (message.find("audio.delta\"") != std::string_view::npos) ++from_upstream_.audio_events;
        if (message.find("\"response.done\"") == std::string_view::npos) return;
        const realtime::ServerEvent event = realtime::read_server_event(message);
        if (event.type != "response.done") return;
        ++responses_done_;
        if (event.usage) {
            if (auto usage = token_usage_from_json(event.usage->parsed())) {
                input_tokens_ += usage->input_tokens;
                output_tokens_ += usage->output_tokens;
            }
        }
        if (!pending_responses_.empty()) {
            pending_responses_.front().settle(event.usage);
            pending_responses_.pop_front();
        }
        AuditRecord line = up_.record;
        line.kind = "realtime_response";
        line.id = new_audit_id();
        line.started = std::chrono::system_clock::now();
        line.usage = event.usage;
        line.masking.reset();
        line.latency_ms = ms_since(started_);
        line.model = model_;
        line.realtime = nlohmann::json{{"session", up_.record.id},
                                       {"response_id", event.response_id},
                                       {"status", event.status}};
        up_.context.audit.write_record(line);
    }

    // The policy and masking of one client text event. A refusal is the close to send.
    struct Refusal {
        websocket::close_reason close;
        std::string code;
        std::string detail;
    };
    net::awaitable<std::optional<Refusal>> admit_client_event(std::string& message) {
        using realtime::ClientEventKind;
        realtime::ClientEvent event = realtime::read_client_event(message);
        const bool policy_in_force = up_.context.gate.policy() != nullptr;
        if (event.kind == ClientEventKind::unreadable && (policy_in_force || masker_)) {
            Refusal refusal{{websocket::close_code::policy_error,
                             "sluice: an event that is not a JSON object with a type cannot be "
                             "checked"},
                            "invalid_event",
                            "client sent an unreadable event"};
            co_return refusal;
        }
        if (event.kind == ClientEventKind::audio_append) ++from_client_.audio_events;
        if (event.kind == ClientEventKind::response_create) ++responses_asked_;
        if (policy_in_force) {
            std::optional<Refusal> refusal = co_await decide(event, message);
            if (refusal) co_return refusal;
        } else if (event.kind == ClientEventKind::session_update && event.model) {
            model_ = *event.model;
        }
        if (masker_ && event.kind != ClientEventKind::audio_append) {
            const masking::BodyStatus status = masker_->mask_client_event(message);
            if (status == masking::BodyStatus::failed) {
                Refusal refusal{{websocket::close_code::internal_error,
                                 "sluice: an event could not be checked for sensitive data"},
                                "masking_failed",
                                "client event masking failed"};
                co_return refusal;
            }
            if (status == masking::BodyStatus::not_json) {
                Refusal refusal{{websocket::close_code::policy_error,
                                 "sluice: an event that is not strict JSON cannot be checked"},
                                "invalid_event",
                                "client event is not strict JSON"};
                co_return refusal;
            }
        }
        co_return std::nullopt;
    }

    // Charged decisions (response.create) wait for a shared store on this worker's loop.
    net::awaitable<std::optional<Refusal>> decide(const realtime::ClientEvent& event,
                                                  std::string& message) {
        using realtime::ClientEventKind;
        const std::string path(up_.request.target().substr(0, up_.request.target().find('?')));
        const bool response = event.kind == ClientEventKind::response_create;
        const bool model_or_tools =
            event.kind == ClientEventKind::session_update && (event.model || event.names_tools);
        const bool has_text = !event.scan_texts.empty();
        if (!response && !model_or_tools && !has_text) co_return std::nullopt;
        const std::string model = event.model.value_or(model_);
        PolicyRequest request = realtime::realtime_policy_request(path, model, &event, response);
        request.approval_granted = up_.approval_granted;
        // decide_on_loop inlined: an event no shared store must answer costs no coroutine frame.
        GateResult gate = up_.context.gate.decide(up_.identity, request, response);
        if (gate.awaiting_accounting()) {
            const AdmissionResult admitted = co_await shared_admission(up_.context.gate, gate);
            up_.context.gate.complete_decided(gate, admitted);
        }
        note_decision(event.type, gate.decision);
        if (gate.refusal) {
            ++up_.context.counters.policy_refusals;
            up_.record.action = std::string(to_string(gate.decision.action));
            up_.record.code = gate.decision.code;
            up_.record.reason = gate.decision.reason;
            up_.record.rule = gate.decision.rule;
            Refusal refusal{
                {websocket::close_code::policy_error, close_reason_text(gate.refusal->message)},
                gate.decision.code,
                gate.decision.reason};
            co_return refusal;
        }
        if (event.model) model_ = *event.model;
        if (response) {
            if (gate.decision.clamp_max_tokens &&
                !realtime::write_response_output_cap(message, *gate.decision.clamp_max_tokens)) {
                Refusal refusal{{websocket::close_code::policy_error,
                                 "sluice: response.create could not be given its output cap"},
                                "invalid_event",
                                "response.create unreadable for the output cap"};
                co_return refusal;
            }
            pending_responses_.push_back(std::move(gate.reservation));
        }
        co_return std::nullopt;
    }

    void note_decision(const std::string& event, const PolicyDecision& decision) {
        if (decisions_.size() >= kAuditedDecisionsMax) return;
        // Allowed responses and items are the session's routine: only what changes the
        // session or refuses is listed.
        if (decision.allowed() && event != "session.update") return;
        nlohmann::json entry{{"event", event},
                             {"action", std::string(to_string(decision.action))},
                             {"rule", decision.rule},
                             {"reason", decision.reason}};
        if (!decision.allowed()) entry["code"] = decision.code;
        decisions_.push_back(std::move(entry));
    }

    // Sluice ends the session: the client is told why (1008 for policy, 1011 when a check
    // could not run) and the upstream is closed normally. Nothing of the refused event left.
    net::awaitable<void> end_by_sluice(Refusal refusal) {
        note_close("sluice", refusal.close);
        if (up_.record.code.empty()) up_.record.code = refusal.code;
        if (refusal.close.code != websocket::close_code::policy_error) {
            up_.record.action = "error";
            note_error(refusal.detail);
        } else if (up_.record.action == "allow") {
            up_.record.action = "deny";
            up_.record.reason = refusal.detail;
        }
        co_await close_client(refusal.close);
        const websocket::close_reason ended{websocket::close_code::normal,
                                            "client session ended by sluice"};
        co_await close_upstream(ended);
    }

    net::awaitable<void> close_client(websocket::close_reason reason) {
        if (client_closing_) co_return;
        client_closing_ = true;
        beast::error_code ec;
        co_await client_ws_.async_close(reason, use_ec(ec));
    }

    net::awaitable<void> close_upstream(websocket::close_reason reason) {
        if (upstream_closing_) co_return;
        upstream_closing_ = true;
        beast::error_code ec;
        co_await upstream_ws_->async_close(reason, use_ec(ec));
    }

    void abort_both() {
        beast::error_code ignored;
        up_.client.next_layer().close(ignored);
        if (upstream_stream_) upstream_stream_->next_layer().close(ignored);
    }

    void note_close(const char* by, const websocket::close_reason& reason) {
        if (!close_.is_null()) return;
        close_ = {
            {"by", by}, {"code", reason.code}, {"reason", std::string(reason.reason.c_str())}};
    }
    void note_error(std::string error) {
        if (up_.record.error.empty()) up_.record.error = std::move(error);
    }

    // An answer before any upgrade: the client's request is refused like any other.
    net::awaitable<void> answer_http(const ClientError& error, unsigned upstream_status) {
        AuditRecord& record = up_.record;
        record.status = error.status;
        record.upstream_status = upstream_status;
        record.action = "error";
        if (record.code.empty()) record.code = error.code;
        if (record.reason.empty()) record.reason = error.code;
        http::response<http::string_body> response{static_cast<http::status>(error.status), 11};
        response.set(http::field::content_type, "application/json");
        response.keep_alive(false);
        response.body() = openai_error_body(error);
        response.prepare_payload();
        beast::error_code ec;
        co_await http::async_write(up_.client, response, use_ec(ec));
        finish_session();
    }

    net::awaitable<void> answer_upstream_refusal() {
        AuditRecord& record = up_.record;
        record.status = upstream_response_.result_int();
        record.action = "error";
        http::response<http::string_body> response{upstream_response_.result(), 11};
        const auto type = upstream_response_[http::field::content_type];
        response.set(http::field::content_type, type.empty() ? "application/json" : type);
        response.keep_alive(false);
        response.body() = upstream_response_.body();
        response.prepare_payload();
        beast::error_code ec;
        co_await http::async_write(up_.client, response, use_ec(ec));
        finish_session();
    }

    void finish_session() {
        AuditRecord& record = up_.record;
        record.latency_ms = ms_since(started_);
        record.request_bytes = from_client_.bytes;
        record.response_bytes = from_upstream_.bytes;
        record.model = model_;
        if (responses_done_ > 0)
            record.usage =
                UsageObject{nlohmann::json{{"input_tokens", input_tokens_},
                                           {"output_tokens", output_tokens_},
                                           {"total_tokens", input_tokens_ + output_tokens_}}
                                .dump()};
        if (up_.masking) record.masking = up_.masking->summary();
        if (record.status == 101) {
            record.realtime = nlohmann::json{{"duration_ms", record.latency_ms},
                                             {"client", from_client_.to_json()},
                                             {"upstream", from_upstream_.to_json()},
                                             {"responses", responses_done_},
                                             {"responses_requested", responses_asked_},
                                             {"audio", "not inspected"},
                                             {"decisions", decisions_}};
            if (!close_.is_null()) (*record.realtime)["close"] = close_;
        }
        if (recording_ && record.status == 101) {
            // The recorder writes the audit line once the recording is stored, with its hash.
            up_.context.recorder->submit(record, recording_->take());
            recording_.reset();
        } else {
            up_.context.audit.write_record(record);
        }
        // Reservations of responses that never finished are released by their destructors.
    }

    RealtimeUpgrade& up_;
    WebSocket client_ws_;
    std::unique_ptr<UpstreamStream> upstream_stream_;
    std::optional<WebSocket> upstream_ws_;
    websocket::response_type upstream_response_;
    std::unique_ptr<masking::RealtimeEventMasker> masker_;
    bool masks_responses_ = false;
    bool records_masked_answer_ = false;  // the recording keeps what the client got of answers
    const Clock::time_point started_;
    std::optional<RealtimeRecording> recording_;  // when the deciding rule records
    std::string model_;
    std::deque<PolicyReservation> pending_responses_;
    Direction from_client_;
    Direction from_upstream_;
    uint64_t responses_asked_ = 0;
    uint64_t responses_done_ = 0;
    int64_t input_tokens_ = 0;
    int64_t output_tokens_ = 0;
    nlohmann::json decisions_ = nlohmann::json::array();
    nlohmann::json close_;  // who closed first, the code and the reason
    bool client_closing_ = false;
    bool upstream_closing_ = false;
};

net::awaitable<void> relay_realtime(RealtimeUpgrade upgrade) {
    RealtimeRelay relay(upgrade);
    co_await relay.run();
}

}  // namespace sluice
