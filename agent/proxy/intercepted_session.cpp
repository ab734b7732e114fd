#include "agent/proxy/intercepted_session.h"

#include <array>
#include <chrono>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include <spdlog/spdlog.h>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "agent/approvals/approval_registry.h"
#include "agent/audit/audit_record.h"
#include "agent/audit/audit_writer.h"
#include "agent/common/connection_deadline.h"
#include "agent/common/limits.h"
#include "agent/common/openai_error.h"
#include "agent/common/unpooled_allocator.h"
#include "agent/gate/request_gate.h"
#include "agent/gate/tool_call_audit.h"
#include "agent/oidc/oidc_authenticator.h"
#include "agent/proxy/body_transform.h"
#include "agent/proxy/connection_record.h"
#include "agent/proxy/header_text.h"
#include "agent/proxy/inline_io.h"
#include "agent/proxy/proxy_worker.h"
#include "agent/proxy/realtime_relay.h"
#include "agent/proxy/request_admission.h"
#include "agent/proxy/request_recording.h"
#include "agent/proxy/request_rewrite.h"
#include "agent/proxy/request_stages.h"
#include "agent/proxy/shared_admission.h"
#include "agent/proxy/tool_call_approval.h"
#include "agent/recording/session_recorder.h"
#include "agent/tls/tls_stream.h"
#include "agent/upstream/api_key_store.h"
#include "agent/upstream/upstream_pool.h"
#include "policy/ascii_case.h"
#include "policy/masking/masking_session.h"
#include "policy/policy_engine.h"
#include "policy/realtime/realtime_event.h"
#include "policy/sse_parser.h"
#include "policy/tool_calls/tool_call_answer.h"
#include "policy/usage.h"

namespace sluice {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using ClientStream = TlsStream;
using Clock = std::chrono::steady_clock;

namespace {

inline auto use_ec(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

double ms_since(Clock::time_point since) {
    return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

// Masking reads the body as text: a compressed answer (sluice asks for identity) cannot be
// masked and is withheld rather than passed through.
bool response_is_maskable(const ResponseHeader& header) {
    const auto encoding = header[http::field::content_encoding];
    return encoding.empty() || ascii_iequals(encoding, "identity");
}

bool is_event_stream(const ResponseHeader& header) {
    return header[http::field::content_type].find("text/event-stream") != std::string_view::npos;
}

// Errors that mean "the client went away between requests", not something to answer.
// (A client timeout closes the socket: operation_aborted, see ConnectionDeadline.)
bool is_quiet_close(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == net::error::eof ||
           ec == net::error::connection_reset || ec == net::ssl::error::stream_truncated ||
           ec == net::error::operation_aborted;
}

uint16_t intercepted_port(const Config& config, const std::string& host) {
    for (const auto& target : config.intercept)
        if (target.host == host) return target.port;
    return 443;
}

ClientError upstream_error(UpstreamFailure failure, const std::string& host) {
    if (failure == UpstreamFailure::timeout)
        return {504, "upstream_error", "upstream_timeout", "timed out reaching " + host};
    if (failure == UpstreamFailure::tls)
        return {502, "upstream_error", "upstream_tls_error",
                "could not verify " + host + " over TLS"};
    return {502, "upstream_error", "upstream_unreachable", "could not reach " + host};
}

}  // namespace

class InterceptedSession {
public:
    InterceptedSession(ProxyWorker& worker, tcp::socket client, ConnectionOrigin origin,
                       std::string sni, net::ssl::context& tls_context)
        : worker_(worker),
          context_(worker.context()),
          config_(context_.config),
          client_(std::move(client), tls_context.native_handle()),
          deadline_(client_.get_executor()),
          origin_(std::move(origin)),
          sni_(std::move(sni)),
          intercepted_port_(intercepted_port(config_, sni_)) {
        worker_.session_started();
    }
    ~InterceptedSession() { worker_.session_ended(); }
    InterceptedSession(const InterceptedSession&) = delete;
    InterceptedSession& operator=(const InterceptedSession&) = delete;

    // The handshake, then requests until the connection ends.
    //
    // Idle keep-alive connections are most of a busy host's connections, so between requests
    // a connection holds only this object, OpenSSL's state and one pending socket wait whose
    // handler owns the session: no coroutine frame, parser, record or read buffer (the buffer a
    // request grew is given back). When the next request's first bytes arrive, a coroutine is
    // spawned to serve it (docs/benchmarks.md, memory per idle connection).
    static net::awaitable<void> serve(InterceptedSessionPtr self) {
        InterceptedSession& session = *self;
        if (!co_await session.resolve_upstream()) co_return;
        if (!co_await session.handshake()) co_return;
        beast::error_code ec;
        if (session.next_request_arrived(ec, Look::in_socket))
            co_await serve_requests(std::move(self), ec);
        else
            wait_for_request(std::move(self));
    }

private:
    // Serves requests while they keep coming without a wait (pipelined or already arrived),
    // then leaves the session to wait_for_request() and ends. `wait_error`: what waiting for
    // the first request's bytes ended with.
    static net::awaitable<void> serve_requests(InterceptedSessionPtr self,
                                               beast::error_code wait_error) {
        InterceptedSession& session = *self;
        beast::error_code ec = wait_error;
        while (co_await session.serve_one_request(ec)) {
            if (!session.next_request_arrived(ec, Look::in_tls_buffers)) {
                wait_for_request(std::move(self));
                co_return;
            }
        }
        if (session.refused_)
            co_await session.close_client_lingering();
        else
            session.close_client();
    }

    // After an error answer the client may still be sending its request (a body past the
    // limit, say): closing at once would reset the connection, and the reset can destroy the
    // answer before the client reads it (curl: "Send failure: Broken pipe"). So, as nginx's
    // lingering close does, stop writing and read and discard what still comes, bounded in
    // bytes and time; a client that reads the answer closes, and that ends it sooner.
    net::awaitable<void> close_client_lingering() {
        auto& socket = client_.next_layer();
        if (!socket.is_open()) co_return;
        client_.send_close_notify();
        beast::error_code ec;
        socket.shutdown(tcp::socket::shutdown_send, ec);
        arm_client(limits::kLingeringCloseDeadline);
        std::array<char, 4096> discard;
        for (std::size_t drained = 0; !ec && drained < limits::kLingeringCloseMaxBytes;)
            drained += co_await socket.async_read_some(net::buffer(discard), use_ec(ec));
        deadline_.disarm();
        socket.close(ec);
    }

    // Where next_request_arrived() looks. Right after an answer, a client that waits for it
    // (nearly all do) cannot have sent more yet: a read of the socket would find nothing and
    // cost a syscall per request, and the wait reports bytes that are already there anyway.
    enum class Look { in_socket, in_tls_buffers };

    // Arms the client's idle deadline (the whole next request header must arrive within one
    // idle timeout from here; it covers the header read too) and looks, without reading, for
    // the next request. True when it has arrived or the connection failed (`ec`: what a read
    // would report); false when it must be waited for.
    bool next_request_arrived(beast::error_code& ec, Look look) {
        ec = {};
        deadline_.arm(client_idle_timeout(), client_.next_layer(),
                      ConnectionDeadline::OnExpiry::stop_reading);
        if (client_buffer_.size() != 0) return true;  // pipelined: it has begun arriving
        client_buffer_.shrink_to_fit();
        if (look == Look::in_tls_buffers && !client_.has_pending_input()) {
            client_.expect_input();
            return false;
        }
        client_.peek_input(ec);
        return ec != net::error::would_block;
    }

    // The idle wait: a plain callback owns the session until the client's next bytes arrive,
    // the idle deadline closes the socket, or the worker stops (destroying the handler ends
    // the session).
    static void wait_for_request(InterceptedSessionPtr self) {
        TlsStream& client = self->client_;
        client.async_wait_ready(IdleWaitHandler{std::move(self)});
    }

    // Its operation gets its own allocation, not a recycled block that may be twice its size:
    // it lasts as long as the connection is idle (unpooled_allocator.h).
    struct IdleWaitHandler {
        using allocator_type = UnpooledAllocator<void>;
        allocator_type get_allocator() const noexcept { return {}; }
        void operator()(beast::error_code ec) { on_readable(std::move(self), ec); }

        InterceptedSessionPtr self;
    };

    static void on_readable(InterceptedSessionPtr self, beast::error_code ec) {
        InterceptedSession& session = *self;
        if (!ec && !session.client_.next_layer().is_open()) ec = net::error::operation_aborted;
        if (!ec) session.client_.peek_input(ec);
        // Records that carry no request (a partial record, a TLS 1.3 key update): wait again.
        if (ec == net::error::would_block) return wait_for_request(std::move(self));
        const auto executor = session.client_.get_executor();
        net::co_spawn(executor, serve_requests(std::move(self), ec), report_session_error);
    }

    net::awaitable<bool> handshake() {
        const auto started = Clock::now();
        beast::error_code ec;
        arm_client(limits::kTlsHandshakeDeadline);
        co_await client_.async_handshake(net::ssl::stream_base::server, use_ec(ec));
        if (!ec) co_return true;
        // Typically a client that does not trust sluice's CA: it aborts with an alert.
        ++context_.counters.tls_handshake_failures;
        AuditRecord record = new_record("connection");
        record.action = "error";
        record.reason = "client_tls_handshake_failed";
        record.error = ec.message();
        record.latency_ms = ms_since(started);
        context_.audit.write_record(record);
        co_return false;
    }

    AuditRecord new_record(std::string kind = "request") const {
        AuditRecord record = connection_record(origin_, std::move(kind));
        record.sni = sni_;
        return record;
    }

    // The upstream to dial: upstream.<host>.connect if configured, else the original destination.
    // A host without an upstream keeps its session: each request gets 503 upstream_not_configured.
    net::awaitable<bool> resolve_upstream() {
        upstream_.host = sni_;
        upstream_.address = origin_.original_destination;
        host_upstream_ = worker_.upstream_for(sni_);
        if (host_upstream_ == nullptr) co_return true;
        const std::string& connect = host_upstream_->host->config.connect;
        if (connect.empty()) co_return true;
        const HostPort target = parse_host_port(connect, "upstream." + sni_ + ".connect");
        beast::error_code ec;
        tcp::resolver resolver(client_.get_executor());
        const std::string port = std::to_string(target.port);
        auto results = co_await resolver.async_resolve(target.host, port, use_ec(ec));
        if (ec || results.empty()) {
            spdlog::error("upstream: cannot resolve {}: {}", connect, ec.message());
            co_return false;
        }
        upstream_.address = results.begin()->endpoint();
        co_return true;
    }

    // `wait_error`: what waiting for the request's first bytes ended with (run() armed the
    // client's idle deadline before that wait; it covers the header read too).
    net::awaitable<bool> serve_one_request(beast::error_code wait_error) {
        http::request_parser<http::buffer_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(config_.limits.max_header_bytes));
        parser.body_limit(config_.limits.max_body_bytes);
        beast::error_code ec = wait_error;
        if (!ec) co_await inline_io::read_header(client_, client_buffer_, parser, ec);
        const auto started = Clock::now();
        AuditRecord record = new_record();
        recording_.reset();
        if (ec) {
            const bool partial = client_buffer_.size() != 0;
            if (deadline_.timed_out()) {
                // Idle past the timeout: a keep-alive connection simply ends. A request that
                // began arriving and never finished (a slowloris) gets a 408 and an audit line.
                if (!partial) co_return false;
                const ClientError error = {
                    408, "invalid_request_error", "request_timeout",
                    "the request header did not arrive within the client idle timeout"};
                co_await refuse(record, error, started);
                co_return false;
            }
            if (is_quiet_close(ec) && !partial) co_return false;
            {
                const ClientError error = parse_error_to_client_error(ec);
                co_await refuse(record, error, started);
            }
            co_return false;
        }
        ++context_.counters.requests;
        RequestHeader& request = parser.get().base();
        record.method = std::string(request.method_string());
        record.path = std::string(request.target());
        const std::string credential = presented_credential(request);
        record.client_key_fingerprint = credential_fingerprint(credential);

        RequestFacts facts(request, record);
        facts.body_pending = !parser.is_done();
        if (const auto length = parser.content_length()) facts.content_length = *length;
        if (context_.oidc.enabled())
            facts.oidc = co_await context_.oidc.authenticate_async(credential);
        const StageEnvironment env{
            sni_,
            intercepted_port_,
            config_.limits.max_body_bytes,
            origin_.identity->policy,
            host_upstream_ ? host_upstream_->host : nullptr,
            config_.failure_mode == FailureMode::closed && !context_.audit.healthy(),
            context_.gate,
            context_.host_secret,
            context_.counters,
            context_.approvals,
            context_.recorder != nullptr};
        if (StageResult refusal = run_stages(head_stages(), facts, env)) {
            co_await refuse(record, *refusal, started);
            co_return false;
        }
        if (websocket::is_upgrade(parser.get()))
            co_return co_await serve_realtime(facts, env, started);
        // Bodies are read whole: policy and masking need the full request before anything goes
        // upstream. Only multipart uploads stream through, decided on their headers before the
        // client is told to send them (request_admission.h).
        const bool buffer_body = facts.head.body == BodyReading::whole && !parser.is_done();
        if (parser.is_done()) facts.body.emplace();
        if (!buffer_body && !co_await admit_body(facts, env, started)) co_return false;
        if (request[http::field::expect] == "100-continue") {
            http::response<http::empty_body> go_on{http::status::continue_, 11};
            arm_client(client_idle_timeout());
            co_await http::async_write(client_, go_on, use_ec(ec));
            if (ec) co_return false;
        }
        if (buffer_body) {
            facts.body.emplace();
            if (!co_await read_whole_body(parser, *facts.body, ec)) {
                co_await refuse(record, parse_error_to_client_error(ec), started);
                co_return false;
            }
            record.request_bytes = facts.body->size();
            if (!co_await admit_body(facts, env, started)) co_return false;
        }
        masking_ = std::move(facts.masking);
        tool_calls_ = facts.gate.tool_calls;
        tool_rule_ = facts.gate.decision.rule;
        tool_approver_ =
            tool_calls_ ? tool_call_approver(context_.approvals, held_request_later(facts, env))
                        : ApprovalResolver{};
        if (facts.record_mode != RecordMode::none) start_recording(facts, started);
        std::optional<std::string>& body = facts.body;
        GateResult& gate = facts.gate;
        const std::string& real_key = *facts.real_key;
        const bool client_keep_alive = parser.keep_alive();

        http::request<http::buffer_body> upstream_request{std::move(request)};
        prepare_upstream_request(upstream_request.base(), real_key);
        if (body) {
            upstream_request.erase(http::field::transfer_encoding);
            if (!body->empty() || upstream_request.method() == http::verb::post)
                upstream_request.content_length(body->size());
        }

        // Evidence before anything leaves: if sluiced dies mid-request, the next start finds
        // this record without its final one and says so (incomplete_requests.h).
        record.kind = "forwarded";
        forwarded_ticket_ = context_.audit.write_awaited_record(record);
        record.kind = "request";

        // A pooled connection may have been closed by the upstream a moment ago; a request whose
        // body we still hold is retried once on a fresh connection.
        for (int attempt = 0;; ++attempt) {
            deadline_.disarm();  // no client operation while we dial the upstream
            UpstreamLease lease = co_await host_upstream_->pool->acquire(upstream_);
            if (!lease.stream) {
                ++context_.counters.upstream_errors;
                record.error = lease.error;
                {
                    const ClientError error = upstream_error(lease.failure, upstream_.host);
                    co_await refuse(record, error, started);
                }
                co_return false;
            }
            record.upstream_connection_reused = lease.reused;
            ExchangeOutcome outcome = co_await exchange(
                parser, upstream_request, body, *lease.stream, record, started, client_keep_alive);
            if (outcome == ExchangeOutcome::retry_on_fresh_connection && lease.reused && body &&
                attempt == 0)
                continue;
            gate.reservation.finish(record.upstream_status, record.usage);
            if (outcome == ExchangeOutcome::retry_on_fresh_connection) {
                ++context_.counters.upstream_errors;
                {
                    const ClientError error =
                        upstream_error(UpstreamFailure::unreachable, upstream_.host);
                    co_await refuse(record, error, started);
                }
                co_return false;
            }
            if (outcome == ExchangeOutcome::done_keep_upstream)
                host_upstream_->pool->release(upstream_, std::move(lease.stream));
            co_return outcome != ExchangeOutcome::close_client&& client_keep_alive;
        }
    }

    // A WebSocket upgrade (the Realtime API, docs/realtime.md): decided here once, on its
    // identity, endpoint and the model its URL names (a refusal is an HTTP answer: the upgrade
    // never completes; a rule's require_approval holds it here like an HTTP request), then
    // handed to the realtime relay, which owns the connection until the session closes. The
    // connection never serves HTTP again.
    net::awaitable<bool> serve_realtime(RequestFacts& facts, const StageEnvironment& env,
                                        Clock::time_point started) {
        AuditRecord& record = facts.record;
        const std::string target(facts.header.target());
        PolicyRequest request =
            realtime::realtime_policy_request(target.substr(0, target.find('?')),
                                              realtime::model_from_target(target), nullptr, false);
        facts.gate = co_await decide_on_loop(context_.gate, *facts.identity, request, true);
        record.model = facts.gate.summary.model;
        record.rule = facts.gate.decision.rule;
        if (facts.gate.decision.action == PolicyAction::approval_required && context_.approvals) {
            // Held as an HTTP request is, before the upgrade is answered: nothing upstream,
            // nothing counted until a person lets it open.
            grant_or_hold(facts, env);
            if (facts.hold) {
                if (StageResult refusal = co_await wait_for_approval(facts, started)) {
                    co_await refuse(record, *refusal, started);
                    co_return false;
                }
                if (!client_.next_layer().is_open()) co_return false;  // left while held
            }
            request.approval_granted = true;
            facts.gate = co_await decide_on_loop(context_.gate, *facts.identity, request, true);
        }
        GateResult& gate = facts.gate;
        record.model = gate.summary.model;
        record.action = std::string(to_string(gate.decision.action));
        record.rule = gate.decision.rule;
        record.reason = gate.decision.reason;
        record.skipped_controls = gate.decision.skipped_controls;
        if (gate.refusal) {
            ++context_.counters.policy_refusals;
            record.code = gate.decision.code;
            const ClientError error = *gate.refusal;
            co_await refuse(record, error, started);
            co_return false;
        }
        if (client_buffer_.size() != 0) {
            // RFC 6455 §4.1: no frame before the server's answer.
            const ClientError error{400, "invalid_request_error", "malformed_http",
                                    "data arrived after the upgrade request before its answer"};
            co_await refuse(record, error, started);
            co_return false;
        }
        std::unique_ptr<masking::MaskingSession> masking;
        if (gate.masking)
            masking = std::make_unique<masking::MaskingSession>(gate.masking, context_.host_secret);
        deadline_.disarm();  // each hop of the session has its own idle timeout
        const RecordMode record_mode = env.recording ? gate.record : RecordMode::none;
        if (record_mode != RecordMode::none && connection_id_.empty())
            connection_id_ = new_audit_id();
        RealtimeUpgrade upgrade{client_,
                                facts.header,
                                context_,
                                *host_upstream_->pool,
                                upstream_,
                                facts.real_key,
                                *facts.identity,
                                record,
                                std::move(gate),
                                std::move(masking),
                                record_mode,
                                connection_id_,
                                facts.approval_granted};
        co_await relay_realtime(std::move(upgrade));
        // A session sluice closed (a message over the cap, a refusal) may still be receiving
        // the client's frames: drain them so the close frame is read, not reset away.
        co_await close_client_lingering();
        co_return false;
    }

    enum class ExchangeOutcome {
        done_keep_upstream,
        done_close_upstream,
        close_client,
        retry_on_fresh_connection
    };

    // The body stages; a request they hold waits here for a person, then runs them again
    // with the approval met (the policy decides anew: budgets are reserved and the body masked
    // at release, never while held). False: refused, the answer is sent.
    net::awaitable<bool> admit_body(RequestFacts& facts, const StageEnvironment& env,
                                    Clock::time_point started) {
        StageResult refusal = co_await run_body_stages(facts, env);
        if (!refusal && facts.hold) {
            refusal = co_await wait_for_approval(facts, started);
            if (!refusal && client_.next_layer().is_open())
                refusal = co_await run_body_stages(facts, env);
            else if (!refusal)
                co_return false;  // the client left while held: nothing to answer
        }
        if (!refusal) co_return true;
        co_await refuse(facts.record, *refusal, started);
        co_return false;
    }

    // The body stages, pausing where the policy waits for a shared store (Redis): the round
    // trip runs on this worker's own event loop, so other connections go on meanwhile.
    net::awaitable<StageResult> run_body_stages(RequestFacts& facts, const StageEnvironment& env) {
        std::span<const Stage> stages = body_stages();
        for (;;) {
            StageResult refusal = run_stages(stages, facts, env);
            if (refusal || !facts.gate.awaiting_accounting()) co_return refusal;
            const std::size_t resume_at = facts.resume_at;
            const AdmissionResult admitted = co_await shared_admission(context_.gate, facts.gate);
            if (StageResult refused = accounting_answered(facts, env, admitted)) co_return refused;
            stages = stages.subspan(resume_at);
        }
    }

    // A held request waits here for a person's decision (docs/approvals.md). The connection
    // stays open and nothing has gone upstream. A streamed request gets its response headers
    // and SSE comment lines as keep-alives (SDKs skip comments), so idle timers along the way
    // do not cut it; the first goes out only after one interval, so a quick decision still
    // answers with a plain status. Returns the refusal, or nothing when approved (or when the
    // client left: its socket is closed then).
    net::awaitable<StageResult> wait_for_approval(RequestFacts& facts, Clock::time_point started) {
        ApprovalRegistry& approvals = *context_.approvals;
        const ApprovalSettings& settings = approvals.settings();
        const HeldRequest held = std::move(*facts.hold);
        facts.hold.reset();
        AuditRecord& record = facts.record;
        const auto executor = client_.get_executor();
        const auto waker = std::make_shared<net::steady_timer>(executor);
        const std::weak_ptr<net::steady_timer> weak_waker = waker;
        const ApprovalRegistry::HoldOutcome outcome = approvals.hold(held, [weak_waker, executor] {
            net::post(executor, [weak_waker] {
                if (auto timer = weak_waker.lock()) timer->cancel();
            });
        });
        if (outcome.id.empty())
            co_return ClientError{429, "rate_limit_exceeded", "approval_queue_full",
                                  outcome.refusal, 60};
        const std::string& id = outcome.id;
        // Withdrawn whenever this frame ends without a decision taken (client gone, worker
        // stopped). A timed-out hold is kept, so a late approval can let the identical retry
        // through.
        struct Withdraw {
            ApprovalRegistry& approvals;
            const std::string& id;
            bool keep = false;
            ~Withdraw() {
                if (!keep) approvals.withdraw(id);
            }
        } withdraw{approvals, id};
        write_approval_event(record, approval_event_json(id, "held", held, ApprovalDecision{}));
        spdlog::info("approval {}: holding request {} (rule {})", id, record.id, held.rule);

        deadline_.disarm();  // holding is not client idleness; the hold has its own deadline
        const auto held_at = Clock::now();
        const auto deadline = held_at + settings.timeout;
        auto next_keepalive = held_at + settings.keepalive_interval;
        std::optional<ApprovalDecision> decision;
        for (;;) {
            decision = approvals.decision(id);
            if (decision) break;
            const auto now = Clock::now();
            if (now >= deadline) {
                decision = approvals.expire(id);
                break;
            }
            if (held.stream && now >= next_keepalive) {
                const auto waited_s =
                    std::chrono::duration_cast<std::chrono::seconds>(now - held_at).count();
                if (!co_await send_hold_keepalive(id, waited_s)) {
                    decision = approvals.expire(id);
                    decision->state = ApprovalState::withdrawn;
                    break;
                }
                next_keepalive = now + settings.keepalive_interval;
            }
            waker->expires_at(held.stream ? std::min(deadline, next_keepalive) : deadline);
            beast::error_code ec;
            co_await waker->async_wait(use_ec(ec));
        }
        nlohmann::json summary =
            approval_event_json(id, to_string(decision->state), held, *decision);
        record.approval = summary;
        switch (decision->state) {
            case ApprovalState::approved:
                facts.approval_granted = true;
                facts.approval_id = id;
                co_return std::nullopt;
            case ApprovalState::denied: {
                record.action = "deny";
                std::string message =
                    "sluice: " + decision->approver + " denied this request (approval " + id + ")";
                if (!decision->reason.empty()) message += ": " + decision->reason;
                co_return ClientError{403, "policy_violation", "approval_denied",
                                      std::move(message)};
            }
            case ApprovalState::timed_out:
                withdraw.keep = true;
                write_approval_event(record, summary);
                record.action = "deny";
                co_return ClientError{403, "policy_violation", "approval_timeout",
                                      "sluice: no one approved this request within " +
                                          std::to_string(settings.timeout.count()) +
                                          " s (approval " + id +
                                          "); once it is approved, retry the identical request"};
            case ApprovalState::shut_down:
                record.action = "error";
                co_return ClientError{503,
                                      "sluice_unavailable",
                                      "approval_interrupted",
                                      "sluice stopped while this request was held for approval (" +
                                          id + "); it was not sent",
                                      0,
                                      /*should_retry=*/false};
            default:  // the client left while held
                write_approval_event(record, summary);
                record.action = "error";
                record.error = "client left while held for approval";
                finish(record, started);
                reset_client();
                co_return std::nullopt;
        }
    }

    // One keep-alive to a held stream: the response head first (200, text/event-stream,
    // chunked; the connection ends with this answer), then an SSE comment. False: the client left.
    net::awaitable<bool> send_hold_keepalive(const std::string& id, int64_t waited_s) {
        beast::error_code ec;
        arm_client(client_idle_timeout());
        if (!held_stream_open_) {
            http::response<http::empty_body> head{http::status::ok, 11};
            head.set(http::field::content_type, "text/event-stream; charset=utf-8");
            head.set(http::field::cache_control, "no-cache");
            head.chunked(true);
            head.keep_alive(false);
            http::response_serializer<http::empty_body> writer{head};
            co_await http::async_write_header(client_, writer, use_ec(ec));
            if (ec) co_return false;
            held_stream_open_ = true;
        }
        const std::string comment =
            ": held for approval " + id + " (waiting " + std::to_string(waited_s) + " s)\n\n";
        co_await write_held_chunk(comment, ec);
        deadline_.disarm();
        co_return !ec;
    }

    // A piece of a held stream's chunked body; an empty piece ends it.
    net::awaitable<void> write_held_chunk(std::string_view piece, beast::error_code& ec) {
        if (piece.empty())
            co_await net::async_write(client_, http::make_chunk_last(), use_ec(ec));
        else
            co_await net::async_write(
                client_, http::make_chunk(net::const_buffer(piece.data(), piece.size())),
                use_ec(ec));
    }

    void write_approval_event(const AuditRecord& request, nlohmann::json approval) {
        AuditRecord event = new_record("approval");
        event.id = request.id;
        event.method = request.method;
        event.path = request.path;
        event.model = request.model;
        event.stream = request.stream;
        event.rule = request.rule;
        event.action = "hold";
        event.approval = std::move(approval);
        context_.audit.write_record(event);
    }

    // The client of a held stream already has its 200 and keep-alive comments: the upstream's
    // answer continues that chunked body, masked when the rule says so. Any other answer (an
    // upstream error) becomes one SSE error event, which the SDKs raise as an error.
    net::awaitable<ExchangeOutcome> relay_into_held_stream(
        http::response_parser<http::buffer_body>& response_parser, UpstreamStream& upstream,
        beast::flat_buffer& upstream_buffer, const std::string& path, AuditRecord& record,
        Clock::time_point started) {
        const ResponseHeader& header = response_parser.get().base();
        const bool masks = masking_ && masking_->masks_responses();
        if (header.result_int() / 100 != 2 || !is_event_stream(header) ||
            (masks && !response_is_maskable(header))) {
            ++context_.counters.upstream_errors;
            const ClientError error = {502, "upstream_error", "upstream_error",
                                       "after approval the upstream answered " +
                                           std::to_string(header.result_int()) +
                                           " without a stream"};
            co_await refuse(record, error, started);
            co_return ExchangeOutcome::close_client;
        }
        co_await relay_through_answer_filters(response_parser, upstream, upstream_buffer, nullptr,
                                              path, masks, record, started, false);
        held_stream_open_ = false;
        co_return ExchangeOutcome::close_client;  // the held stream's body has ended: so does the
                                                  // connection
    }

    // A message whose whole body is `body`, header and body in one write. A chunked one goes
    // through Beast's serializer (`writer`, on `message`), which frames the body.
    template <class Message, class Serializer>
    static net::awaitable<void> write_whole_message(TlsStream& stream, const Message& message,
                                                    Serializer& writer, std::string_view body,
                                                    beast::error_code& ec) {
        if (message.chunked()) return inline_io::write(stream, writer, ec);
        std::string head;
        head.reserve(512);
        append_header_text(head, message.base());
        return inline_io::write_head_and_body(stream, std::move(head), body, ec);
    }

    // Sends the request upstream and relays the response back, streaming both bodies.
    net::awaitable<ExchangeOutcome> exchange(http::request_parser<http::buffer_body>& parser,
                                             http::request<http::buffer_body>& upstream_request,
                                             const std::optional<std::string>& body,
                                             UpstreamStream& upstream, AuditRecord& record,
                                             Clock::time_point started, bool client_keep_alive) {
        beast::error_code ec;
        const LeasedUpstream leased(*this, upstream.next_layer());
        const auto read_timeout = host_upstream_->pool->timeouts().read;
        http::request_serializer<http::buffer_body> request_writer{upstream_request};
        arm_upstream(read_timeout);
        if (body) {
            upstream_request.body().data =
                body->empty() ? nullptr : const_cast<char*>(body->data());
            upstream_request.body().size = body->size();
            upstream_request.body().more = false;
            co_await write_whole_message(upstream, upstream_request, request_writer, *body, ec);
            if (ec) co_return ExchangeOutcome::retry_on_fresh_connection;
        } else {
            upstream_request.body().data = nullptr;
            upstream_request.body().more = true;
            co_await http::async_write_header(upstream, request_writer, use_ec(ec));
            if (ec) co_return ExchangeOutcome::retry_on_fresh_connection;
            if (!co_await stream_request_body(parser, upstream_request, request_writer, upstream,
                                              record, ec)) {
                if (ec == http::error::body_limit) {
                    {
                        const ClientError error = parse_error_to_client_error(ec);
                        co_await refuse(record, error, started);
                    }
                    co_return ExchangeOutcome::close_client;
                }
                record.action = "error";
                record.error = "request body relay failed: " + ec.message();
                ++context_.counters.upstream_errors;
                finish(record, started);
                co_return ExchangeOutcome::close_client;
            }
        }

        http::response_parser<http::buffer_body> response_parser;
        // No cap on what the upstream sends back. Not boost::none: Boost 1.74 compares the
        // length against the empty optional and reports body_limit for every response.
        response_parser.body_limit(std::numeric_limits<std::uint64_t>::max());
        response_parser.header_limit(static_cast<std::uint32_t>(config_.limits.max_header_bytes));
        if (upstream_request.method() == http::verb::head) response_parser.skip(true);
        beast::flat_buffer upstream_buffer;
        arm_upstream(read_timeout);
        co_await inline_io::read_header(upstream, upstream_buffer, response_parser, ec,
                                        inline_io::Start::when_readable);
        if (ec) {
            const bool timed_out = deadline_.timed_out();
            const bool nothing_received = upstream_buffer.size() == 0 && !timed_out;
            if (nothing_received && record.upstream_connection_reused && body)
                co_return ExchangeOutcome::retry_on_fresh_connection;
            ++context_.counters.upstream_errors;
            record.error = "upstream response: " + ec.message();
            {
                const ClientError error = upstream_error(
                    timed_out ? UpstreamFailure::timeout : UpstreamFailure::unreachable,
                    upstream_.host);
                co_await refuse(record, error, started);
            }
            co_return ExchangeOutcome::close_client;
        }
        record.upstream_ttfb_ms = ms_since(started);
        co_await await_forwarded_record_written();
        ResponseHeader& upstream_header = response_parser.get().base();
        if (recording_) recording_->on_answer_head(upstream_header);
        record.upstream_status = upstream_header.result_int();
        record.status = record.upstream_status;
        const bool upstream_keep_alive = response_parser.keep_alive();
        const bool streaming = is_event_stream(upstream_header);

        if (held_stream_open_)
            co_return co_await relay_into_held_stream(response_parser, upstream, upstream_buffer,
                                                      std::string(upstream_request.target()),
                                                      record, started);
        http::response<http::buffer_body> client_response{std::move(upstream_header)};
        prepare_client_response(client_response.base());
        const bool has_length = client_response.has_content_length() || client_response.chunked();
        if (!has_length && !response_parser.is_done())
            client_response.chunked(true);  // close-delimited upstream
        client_response.keep_alive(client_keep_alive);
        client_response.body().data = nullptr;
        client_response.body().more = !response_parser.is_done();
        const bool masks = masking_ && masking_->masks_responses();
        const bool judges_tool_calls = tool_calls_ && client_response.result_int() / 100 == 2;
        if ((masks || judges_tool_calls) && !response_parser.is_done()) {
            if (!response_is_maskable(client_response))
                co_return co_await withhold_unmaskable_answer(record, started);
            const std::string path(upstream_request.target());
            if (streaming)
                co_return co_await relay_through_answer_filters(
                    response_parser, upstream, upstream_buffer, &client_response, path, masks,
                    record, started, upstream_keep_alive);
            co_return co_await relay_masked_body(response_parser, upstream, upstream_buffer,
                                                 client_response, path, record, started,
                                                 upstream_keep_alive);
        }
        const auto length = response_parser.content_length();
        if (!streaming && length && *length <= limits::kRelayBufferBytes) {
            // Small known-length answers (most JSON replies) go out as one write, header and
            // body together: one TLS record instead of one per piece (docs/benchmarks.md).
            co_return co_await relay_small_response(
                response_parser, upstream, upstream_buffer, client_response,
                static_cast<std::size_t>(*length), record, started, upstream_keep_alive);
        }
        PassThrough transform;
        co_return co_await relay_response_body(response_parser, upstream, upstream_buffer,
                                               &client_response, transform, streaming, record,
                                               started, upstream_keep_alive);
    }

    // A streamed answer through the rule's answer filters: its tool-call control (on a 2xx
    // answer), then its masking.
    net::awaitable<ExchangeOutcome> relay_through_answer_filters(
        http::response_parser<http::buffer_body>& response_parser, UpstreamStream& upstream,
        beast::flat_buffer& upstream_buffer, http::response<http::buffer_body>* client_response,
        const std::string& path, bool masks, AuditRecord& record, Clock::time_point started,
        bool upstream_keep_alive) {
        PassThrough pass_through;
        std::optional<StreamMasking> masking;
        if (masks) masking.emplace(masking_->make_stream_masker(path));
        std::optional<ToolCallFiltering> tool_calls;
        if (tool_calls_ && response_parser.get().result_int() / 100 == 2) {
            tool_calls.emplace(*tool_calls_, tool_rule_, path, tool_approver_,
                               masking ? &*masking : nullptr);
            tool_calls_seen_ = &tool_calls->calls();
        }
        BodyTransform& transform = tool_calls ? static_cast<BodyTransform&>(*tool_calls)
                                   : masking  ? static_cast<BodyTransform&>(*masking)
                                              : pass_through;
        const ExchangeOutcome outcome = co_await relay_response_body(
            response_parser, upstream, upstream_buffer, client_response, transform, true, record,
            started, upstream_keep_alive);
        tool_calls_seen_ = nullptr;
        co_return outcome;
    }

    // An answer relayed piece by piece as it arrives (streams, large or unknown-length bodies),
    // each piece through `transform` (body_transform.h): the one loop for every streamed answer.
    // Its relay buffer lives in this coroutine's frame, so the common small answer does not
    // allocate one.
    // `client_response` null: the client already has a held stream's 200 head and keep-alive
    // comments (approval hold), and the pieces continue that chunked body.
    net::awaitable<ExchangeOutcome> relay_response_body(
        http::response_parser<http::buffer_body>& response_parser, UpstreamStream& upstream,
        beast::flat_buffer& upstream_buffer, http::response<http::buffer_body>* client_response,
        BodyTransform& relay_transform, bool streaming, AuditRecord& record,
        Clock::time_point started, bool upstream_keep_alive) {
        beast::error_code ec;
        BodyTransform& transform = recording_ ? recording_->tap(relay_transform) : relay_transform;
        // No separate header write: the first write below carries the header with the first
        // piece of the body, one TLS record and one sendmsg fewer per response.
        std::optional<http::response_serializer<http::buffer_body>> response_writer;
        if (client_response) {
            if (transform.changes_length()) client_response->chunked(true);
            response_writer.emplace(*client_response);
        }
        std::array<char, limits::kRelayBufferBytes> chunk;
        SseParser sse;
        StreamUsageTracker stream_usage;
        std::string captured;  // non-streamed body, kept to read usage
        bool capture = !streaming;
        bool going_on = true;  // false once the transform has ended the body
        for (;;) {
            std::size_t n = 0;
            if (going_on && !response_parser.is_done()) {
                n = co_await read_response_piece(response_parser, upstream, upstream_buffer,
                                                 chunk.data(), chunk.size(), ec);
                if (ec) co_return upstream_failed_mid_response(record, started, ec);
            }
            const std::string_view piece(chunk.data(), n);
            record.response_bytes += n;
            if (streaming) {
                sse.feed(piece, [&](const SseEvent& event) { stream_usage.on_event(event); });
            } else if (capture) {
                if (captured.size() + n <= limits::kUsageCaptureMaxBytes)
                    captured.append(piece);
                else
                    capture = false;
            }
            std::string_view out;
            if (going_on) going_on = transform.feed(piece, response_parser.is_done(), out);
            const bool last = response_parser.is_done() || !going_on;
            arm_client(client_idle_timeout());
            if (!response_writer) {
                if (!out.empty()) co_await write_held_chunk(out, ec);
                if (!ec && last) co_await write_held_chunk({}, ec);
                if (ec) co_return client_gone(record, started, ec);
                if (last) break;
                continue;
            }
            client_response->body().data = out.empty() ? nullptr : const_cast<char*>(out.data());
            client_response->body().size = out.size();
            client_response->body().more = !last;
            co_await inline_io::write(client_, *response_writer, ec);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) co_return client_gone(record, started, ec);
            if (last && response_writer->is_done()) break;
        }
        record.usage =
            streaming ? stream_usage.usage() : (capture ? usage_from_body(captured) : std::nullopt);
        if (!going_on) {
            record.action = "error";
            record.error = "response stream could not be masked: " + transform.failure();
            finish(record, started);
            co_return ExchangeOutcome::close_client;  // the upstream stream was abandoned mid-way
        }
        finish(record, started);
        const bool reusable = upstream_keep_alive && upstream_buffer.size() == 0;
        co_return reusable ? ExchangeOutcome::done_keep_upstream
                           : ExchangeOutcome::done_close_upstream;
    }

    net::awaitable<ExchangeOutcome> relay_small_response(
        http::response_parser<http::buffer_body>& response_parser, UpstreamStream& upstream,
        beast::flat_buffer& upstream_buffer, http::response<http::buffer_body>& client_response,
        std::size_t length, AuditRecord& record, Clock::time_point started,
        bool upstream_keep_alive) {
        beast::error_code ec;
        std::string body(length, '\0');
        std::size_t filled = 0;
        while (!response_parser.is_done()) {
            response_parser.get().body().data = body.data() + filled;
            response_parser.get().body().size = body.size() - filled;
            arm_upstream(host_upstream_->pool->timeouts().read);
            co_await inline_io::read_some(upstream, upstream_buffer, response_parser, ec);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) co_return co_await refuse_failed_response_body(record, started, ec);
            filled = body.size() - response_parser.get().body().size;
        }
        body.resize(filled);
        if (recording_) recording_->on_answer(body);
        record.response_bytes = filled;
        record.usage = usage_from_body(body);
        const ExchangeOutcome outcome =
            co_await send_whole_response(client_response, body, record, started,
                                         upstream_keep_alive && upstream_buffer.size() == 0);
        tool_calls_seen_ = nullptr;
        co_return outcome;
    }

    // Answers with a body read whole (small, or masked): one write, header and body together.
    net::awaitable<ExchangeOutcome> send_whole_response(
        http::response<http::buffer_body>& client_response, std::string_view body,
        AuditRecord& record, Clock::time_point started, bool upstream_reusable) {
        beast::error_code ec;
        client_response.body().data = body.empty() ? nullptr : const_cast<char*>(body.data());
        client_response.body().size = body.size();
        client_response.body().more = false;
        http::response_serializer<http::buffer_body> writer{client_response};
        arm_client(client_idle_timeout());
        co_await write_whole_message(client_, client_response, writer, body, ec);
        if (ec) co_return client_gone(record, started, ec);
        finish(record, started);
        co_return upstream_reusable ? ExchangeOutcome::done_keep_upstream
                                    : ExchangeOutcome::done_close_upstream;
    }

    // The upstream failed while its answer was being read whole: nothing has reached the client
    // yet, so it still gets a proper 502.
    net::awaitable<ExchangeOutcome> refuse_failed_response_body(AuditRecord& record,
                                                                Clock::time_point started,
                                                                const beast::error_code& ec) {
        ++context_.counters.upstream_errors;
        record.error = "upstream response body: " + ec.message();
        const ClientError error = upstream_error(UpstreamFailure::unreachable, upstream_.host);
        co_await refuse(record, error, started);
        co_return ExchangeOutcome::close_client;
    }

    // An answer that must be masked but cannot be (compressed, or the scan failed) is withheld;
    // nothing has reached the client yet, so it gets a proper 502.
    net::awaitable<ExchangeOutcome> withhold_unmaskable_answer(AuditRecord& record,
                                                               Clock::time_point started) {
        const ClientError error = {
            502, "upstream_error", "masking_failed",
            "the upstream answer could not be checked for sensitive data, so it was withheld"};
        co_await refuse(record, error, started);
        co_return ExchangeOutcome::close_client;
    }

    // A non-streamed answer to mask: read whole (bounded), masked, sent with its new length.
    net::awaitable<ExchangeOutcome> relay_masked_body(
        http::response_parser<http::buffer_body>& response_parser, UpstreamStream& upstream,
        beast::flat_buffer& upstream_buffer, http::response<http::buffer_body>& client_response,
        const std::string& path, AuditRecord& record, Clock::time_point started,
        bool upstream_keep_alive) {
        beast::error_code ec;
        std::string body;
        std::array<char, limits::kRelayBufferBytes> chunk;
        while (!response_parser.is_done()) {
            const std::size_t n = co_await read_response_piece(
                response_parser, upstream, upstream_buffer, chunk.data(), chunk.size(), ec);
            if (!ec && body.size() + n > limits::kMaskedResponseMaxBytes)
                ec = http::error::body_limit;
            if (ec) co_return co_await refuse_failed_response_body(record, started, ec);
            body.append(chunk.data(), n);
        }
        if (recording_) recording_->on_answer(body);  // as the upstream sent it: still masked
        record.response_bytes = body.size();
        record.usage = usage_from_body(body);
        std::vector<ToolCallRecord> tool_calls;
        if (tool_calls_ && client_response.result_int() / 100 == 2) {
            nlohmann::json answer = nlohmann::json::parse(body, nullptr, false);
            ToolCallOutcome outcome =
                apply_tool_call_policy(answer, path, *tool_calls_, tool_rule_, tool_approver_);
            if (outcome.changed)
                body = answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            tool_calls = std::move(outcome.calls);
            tool_calls_seen_ = &tool_calls;
        }
        if (masking_ && masking_->mask_response(body, path) == masking::BodyStatus::failed) {
            tool_calls_seen_ = nullptr;
            co_return co_await withhold_unmaskable_answer(record, started);
        }
        client_response.chunked(false);
        client_response.content_length(body.size());
        co_return co_await send_whole_response(client_response, body, record, started,
                                               upstream_keep_alive && upstream_buffer.size() == 0);
    }

    // Reads what has arrived of the upstream's body into [data, data + size) (one deadline per
    // read); returns how many bytes it put there.
    net::awaitable<std::size_t> read_response_piece(
        http::response_parser<http::buffer_body>& parser, UpstreamStream& upstream,
        beast::flat_buffer& upstream_buffer, char* data, std::size_t size, beast::error_code& ec) {
        // Pieces the socket already holds are read inline; a long answer still lets the other
        // connections on this thread run between some of them.
        if (++answer_pieces_ % kInlinePiecesBeforeYield == 0)
            co_await net::post(client_.get_executor(), net::use_awaitable);
        parser.get().body().data = data;
        parser.get().body().size = size;
        arm_upstream(host_upstream_->pool->timeouts().read);
        co_await inline_io::read_some(upstream, upstream_buffer, parser, ec);
        if (ec == http::error::need_buffer) ec = {};
        co_return size - parser.get().body().size;
    }

    // Reads the client's body straight into `out`, sized from Content-Length when there is one:
    // no relay buffer in the frame, so a JSON request allocates only its body.
    static constexpr std::size_t kInlinePiecesBeforeYield = 16;
    net::awaitable<bool> read_whole_body(http::request_parser<http::buffer_body>& parser,
                                         std::string& out, beast::error_code& ec) {
        std::size_t filled = 0;
        if (auto length = parser.content_length()) out.resize(static_cast<std::size_t>(*length));
        for (std::size_t pieces = 1; !parser.is_done(); ++pieces) {
            if (filled == out.size())
                out.resize(filled + limits::kRelayBufferBytes);  // chunked: grow as it comes
            // Pieces the socket already holds are read inline; a long body still lets the other
            // connections on this thread run between some of them.
            if (pieces % kInlinePiecesBeforeYield == 0)
                co_await net::post(client_.get_executor(), net::use_awaitable);
            parser.get().body().data = out.data() + filled;
            parser.get().body().size = out.size() - filled;
            arm_client(client_idle_timeout());
            co_await inline_io::read_some(client_, client_buffer_, parser, ec);
            if (ec == http::error::need_buffer) ec = {};
            if (ec) co_return false;
            filled = out.size() - parser.get().body().size;
        }
        out.resize(filled);
        co_return true;
    }

    // Reads what has arrived of the client's body into [data, data + size) (one deadline per
    // read); returns how many bytes it put there.
    net::awaitable<std::size_t> read_body_piece(http::request_parser<http::buffer_body>& parser,
                                                char* data, std::size_t size,
                                                beast::error_code& ec) {
        parser.get().body().data = data;
        parser.get().body().size = size;
        arm_client(client_idle_timeout());
        co_await http::async_read_some(client_, client_buffer_, parser, use_ec(ec));
        if (ec == http::error::need_buffer) ec = {};
        co_return size - parser.get().body().size;
    }

    net::awaitable<bool> stream_request_body(http::request_parser<http::buffer_body>& parser,
                                             http::request<http::buffer_body>& upstream_request,
                                             http::request_serializer<http::buffer_body>& writer,
                                             UpstreamStream& upstream, AuditRecord& record,
                                             beast::error_code& ec) {
        std::array<char, limits::kRelayBufferBytes> chunk;
        for (;;) {
            std::size_t n = 0;
            if (!parser.is_done()) {
                n = co_await read_body_piece(parser, chunk.data(), chunk.size(), ec);
                if (ec) co_return false;
            }
            record.request_bytes += n;
            if (recording_) recording_->on_upload(std::string_view(chunk.data(), n));
            upstream_request.body().data = n ? chunk.data() : nullptr;
            upstream_request.body().size = n;
            upstream_request.body().more = !parser.is_done();
            arm_upstream(
                host_upstream_->pool->timeouts().read);  // read_body_piece armed the client
            co_await http::async_write(upstream, writer, use_ec(ec));
            if (ec == http::error::need_buffer) ec = {};
            if (ec) co_return false;
            if (parser.is_done() && writer.is_done()) co_return true;
        }
    }

    // The upstream failed after the response started: the client must see a failure, never a
    // truncated success, so its connection is reset rather than closed cleanly.
    ExchangeOutcome upstream_failed_mid_response(AuditRecord& record, Clock::time_point started,
                                                 const beast::error_code& ec) {
        ++context_.counters.upstream_errors;
        record.action = "error";
        record.error = "upstream failed mid-response: " + ec.message();
        finish(record, started);
        reset_client();
        return ExchangeOutcome::close_client;
    }

    ExchangeOutcome client_gone(AuditRecord& record, Clock::time_point started,
                                const beast::error_code& ec) {
        record.action = "error";
        record.error = "client connection failed: " + ec.message();
        finish(record, started);
        return ExchangeOutcome::close_client;
    }

    void finish(AuditRecord& record, Clock::time_point started) {
        record.latency_ms = ms_since(started);
        if (masking_) record.masking = masking_->summary();
        if (tool_calls_seen_ && !tool_calls_seen_->empty())
            record.tool_calls = tool_call_audit(*tool_calls_seen_, context_.gate);
        if (!recording_) {
            context_.audit.write_record(record);
            return;
        }
        // The recorder writes the audit line once the recording is stored (session_recorder.h).
        context_.recorder->submit(record, recording_->take());
        recording_.reset();
    }

    // Requests on this connection share its id: one session unless the client marks a run.
    void start_recording(const RequestFacts& facts, Clock::time_point started) {
        if (connection_id_.empty()) connection_id_ = new_audit_id();
        recording_.emplace(facts.record_mode, connection_id_, facts.header, started);
        recording_->on_forwarded(facts.body);
    }

    // Answers with an OpenAI-shaped error, records it, and leaves the connection to be closed.
    // Callers pass a named ClientError, never a temporary: GCC 12 destroys temporaries in a
    // co_await expression twice (seen here as "double free" on the 503 path).
    net::awaitable<void> refuse(AuditRecord& record, const ClientError& error,
                                Clock::time_point started) {
        refused_ = true;
        if (error.status < 500) ++context_.counters.client_errors;
        record.status = error.status;
        if (record.action == "allow") record.action = "error";
        if (record.reason.empty()) record.reason = error.code;
        if (record.code.empty()) record.code = error.code;
        if (record.error.empty()) record.error = error.message;
        beast::error_code ec;
        arm_client(std::chrono::seconds(10));
        if (held_stream_open_) {
            // A held stream already answered 200: the refusal is its last event, in the error
            // shape the SDKs raise from a stream.
            held_stream_open_ = false;
            const std::string event = "data: " + openai_error_body(error) + "\n\n";
            co_await write_held_chunk(event, ec);
            if (!ec) co_await write_held_chunk({}, ec);
            finish(record, started);
            co_return;
        }
        http::response<http::string_body> response{static_cast<http::status>(error.status), 11};
        response.set(http::field::content_type, "application/json");
        if (error.retry_after_s > 0)
            response.set(http::field::retry_after, std::to_string(error.retry_after_s));
        if (!error.should_retry) response.set("x-should-retry", "false");
        response.keep_alive(false);
        response.body() = openai_error_body(error);
        response.prepare_payload();
        co_await http::async_write(client_, response, use_ec(ec));
        finish(record, started);
    }

    // The one deadline counts only for the connection with an operation outstanding, as
    // Beast's per-operation timers did: waiting on the upstream is not client idleness, and a
    // slow client is not an upstream timeout. Neither call makes a syscall.
    void arm_client(std::chrono::steady_clock::duration timeout) {
        deadline_.arm(timeout, client_.next_layer());
    }
    void arm_upstream(std::chrono::steady_clock::duration timeout) {
        deadline_.arm(timeout, *upstream_socket_);
    }
    std::chrono::milliseconds client_idle_timeout() const {
        return std::chrono::milliseconds(config_.limits.client_idle_timeout_ms);
    }

    // The upstream socket arm_upstream() guards while an exchange uses it; the deadline never
    // closes it once the connection is back in the pool.
    class LeasedUpstream {
    public:
        LeasedUpstream(InterceptedSession& session, tcp::socket& socket) : session_(session) {
            session_.upstream_socket_ = &socket;
        }
        ~LeasedUpstream() {
            if (session_.deadline_.guards(*session_.upstream_socket_)) session_.deadline_.disarm();
            session_.upstream_socket_ = nullptr;
        }
        LeasedUpstream(const LeasedUpstream&) = delete;
        LeasedUpstream& operator=(const LeasedUpstream&) = delete;

    private:
        InterceptedSession& session_;
    };

    void reset_client() {
        beast::error_code ec;
        auto& socket = client_.next_layer();
        socket.set_option(net::socket_base::linger(true, 0), ec);
        socket.close(ec);
    }

    void close_client() {
        beast::error_code ec;
        auto& socket = client_.next_layer();
        if (!socket.is_open()) return;
        client_.send_close_notify();  // a clean TLS end: the client reads EOF, not a truncation
        socket.close(ec);             // sends the FIN; a shutdown() first would only add a syscall
    }

    // No answer reaches the client before its request's "forwarded" record is in the audit file:
    // after a kill -9 the next start completes that record (incomplete_requests.h), so no
    // request a client saw answered goes unrecorded. The writer does not linger over it
    // (write_awaited_record), so it is usually written before the upstream answers.
    net::awaitable<void> await_forwarded_record_written() {
        if (context_.audit.written(forwarded_ticket_)) co_return;
        const auto executor = co_await net::this_coro::executor;
        auto timer = std::make_shared<net::steady_timer>(executor, limits::kAuditForwardedWaitMax);
        // The writer may call back after this wait timed out and the session (even the worker)
        // is gone: it owns no I/O object, and posts only while the wait is still on.
        struct Wait {
            std::mutex mutex;
            bool waiting = true;
        };
        auto wait = std::make_shared<Wait>();
        context_.audit.when_written(forwarded_ticket_,
                                    [wait, weak_timer = std::weak_ptr(timer), executor] {
                                        std::lock_guard lock(wait->mutex);
                                        if (!wait->waiting) return;
                                        if (auto timer = weak_timer.lock())
                                            net::post(executor, [timer] { timer->cancel(); });
                                    });
        beast::error_code ec;
        co_await timer->async_wait(use_ec(ec));
        std::lock_guard lock(wait->mutex);
        wait->waiting = false;
    }

    ProxyWorker& worker_;
    ProxyContext& context_;
    const Config& config_;
    ClientStream client_;
    // Closes the client socket, or during an exchange the leased upstream socket, when it passes.
    ConnectionDeadline deadline_;
    tcp::socket* upstream_socket_ = nullptr;  // the leased upstream's, during an exchange
    beast::flat_buffer client_buffer_;
    const ConnectionOrigin origin_;
    const std::string sni_;            // canonical: the intercepted host this connection serves
    const uint16_t intercepted_port_;  // the port it was intercepted on (Host may name it)
    UpstreamEndpoint upstream_;
    ProxyWorker::HostUpstream* host_upstream_ = nullptr;  // null: the config gives sni_ no upstream
    std::unique_ptr<masking::MaskingSession>
        masking_;  // the current request's, when its rule masks
    std::shared_ptr<const ToolCallControl> tool_calls_;  // the current request's rule's, if any
    std::string tool_rule_;                              // that rule's name
    ApprovalResolver tool_approver_;                     // settles its require_approval calls
    // The tool calls the answer being relayed proposed, for its audit record (null: none).
    const std::vector<ToolCallRecord>* tool_calls_seen_ = nullptr;
    bool refused_ = false;  // an error answer was sent: the connection ends with a lingering close
    bool held_stream_open_ =
        false;  // a held stream's 200 head went out: its body continues as chunks
    std::size_t answer_pieces_ = 0;  // read inline by read_response_piece, for its yields
    uint64_t forwarded_ticket_ =
        0;  // the current request's "forwarded" record (AuditWriter::when_written)
    std::optional<RequestRecording> recording_;  // the current request's, when its rule records
    std::string connection_id_;                  // made when a request is first recorded
};

void InterceptedSessionDeleter::operator()(InterceptedSession* session) const noexcept {
    delete session;
}

InterceptedSessionPtr make_intercepted_session(ProxyWorker& worker, tcp::socket client,
                                               ConnectionOrigin origin, std::string sni,
                                               net::ssl::context& tls_context) {
    return InterceptedSessionPtr(new InterceptedSession(
        worker, std::move(client), std::move(origin), std::move(sni), tls_context));
}

net::awaitable<void> serve_intercepted(InterceptedSessionPtr session) {
    return InterceptedSession::serve(std::move(session));
}

}  // namespace sluice
