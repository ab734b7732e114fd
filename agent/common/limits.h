// Every read has a size limit and a deadline: the ones not set from config live here.
#pragma once

#include <chrono>
#include <cstddef>

namespace sluice::limits {

// A ClientHello with post-quantum key shares is ~1.8 KiB; 16 KiB is one full TLS record.
inline constexpr std::size_t kClientHelloMaxBytes = 16 * 1024 + 5;
inline constexpr std::chrono::milliseconds kClientHelloDeadline{10'000};
inline constexpr std::chrono::milliseconds kTlsHandshakeDeadline{10'000};
// Relay buffer per direction: one TLS record.
inline constexpr std::size_t kRelayBufferBytes = 16 * 1024;
// Response bodies kept to read `usage` from (non-streamed JSON). Larger bodies are forwarded
// without usage extraction.
inline constexpr std::size_t kUsageCaptureMaxBytes = 4 * 1024 * 1024;
// A recording (`record: full`) keeps at most this much of each body; past it the body is cut
// and the recording says so (docs/recording.md), the request itself goes on untouched.
inline constexpr std::size_t kRecordingMaxBodyBytes = 16 * 1024 * 1024;
// Recordings waiting for the recorder's thread; past either bound a recording is dropped and
// its audit line says so (the request is not held up for it).
inline constexpr std::size_t kRecordingQueueMaxRequests = 1024;
inline constexpr std::size_t kRecordingQueueMaxBytes = 256 * 1024 * 1024;
// A non-streamed answer that must be masked is read whole first; past this it is refused (502)
// rather than passed through unmasked.
inline constexpr std::size_t kMaskedResponseMaxBytes = 64 * 1024 * 1024;
// A Realtime API WebSocket message (docs/realtime.md): OpenAI takes audio appends of up to
// 15 MiB of base64; a larger message closes the session with 1009 (message too big).
inline constexpr std::size_t kRealtimeMaxMessageBytes = 16 * 1024 * 1024;
// The WebSocket opening handshake with the upstream, and with the client once it answered.
inline constexpr std::chrono::milliseconds kRealtimeHandshakeDeadline{10'000};
// Realtime sessions stay open while a person thinks: after this long without a frame either
// way a ping goes out, and a peer that answers nothing within as long again is closed.
inline constexpr std::chrono::seconds kRealtimeIdleTimeout{120};
// A realtime message relayed as it arrives (binary audio, or any message no control reads) is
// read and sent on in pieces of at most this much, so nothing waits for the message's end.
inline constexpr std::size_t kRealtimeRelayPieceBytes = 64 * 1024;
// A realtime session's recording keeps at most this many events and this much event text; past
// either it records no more events and says where it was cut (docs/recording.md), so a session
// left open for hours holds bounded memory.
inline constexpr std::size_t kRealtimeRecordingMaxEvents = 10'000;
inline constexpr std::size_t kRealtimeRecordingMaxBytes = 16 * 1024 * 1024;
// After an error answer, what a client still sending its request may send before the
// connection is closed, and for how long (a lingering close, intercepted_session.cpp).
inline constexpr std::size_t kLingeringCloseMaxBytes = 8 * 1024 * 1024;
inline constexpr std::chrono::milliseconds kLingeringCloseDeadline{2'000};
// Idle upstream connections kept per upstream endpoint and worker thread.
inline constexpr std::size_t kUpstreamIdlePerEndpoint = 64;
inline constexpr std::chrono::seconds kUpstreamIdleTimeout{50};
// How often idle upstream connections are checked for expiry or a close by the upstream.
inline constexpr std::chrono::seconds kUpstreamSweepInterval{2};
// Audit records waiting for the writer before new ones are counted as lost.
inline constexpr std::size_t kAuditQueueMaxRecords = 100'000;
// How long an answer waits for its request's "forwarded" audit record to reach the file (it is
// usually there before the upstream answers); past it the answer goes out anyway and the audit
// health check refuses what follows.
inline constexpr std::chrono::milliseconds kAuditForwardedWaitMax{1'000};
// Admin socket requests.
inline constexpr std::size_t kAdminRequestMaxBytes = 64 * 1024;
// Supplementary groups read for an admin peer (SO_PEERGROUPS); a peer in more is judged by its
// uid and primary group alone.
inline constexpr std::size_t kAdminPeerMaxGroups = 1024;
inline constexpr std::chrono::milliseconds kShutdownDrainDeadline{5'000};
// `sluicectl doctor`: one runtime's handshake (a JVM or Node start is ~1 s on a small host).
inline constexpr std::chrono::seconds kDoctorProbeTimeout{15};
// `sluicectl doctor`: a resolved target this long past its DNS expiry is stale (the resolver
// refreshes at expiry and retries failures with backoff well inside this).
inline constexpr std::chrono::minutes kDoctorTargetStaleness{5};

}  // namespace sluice::limits
