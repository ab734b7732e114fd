#include "agent/proxy/realtime_recording.h"

#include "agent/common/limits.h"
#include "agent/common/sha256_hex.h"
#include "policy/realtime/realtime_event_type.h"

namespace sluice {

RealtimeRecording::RealtimeRecording(RecordMode mode, std::string connection,
                                     const RequestHeader& header, Clock::time_point started)
    : capture_(begin_capture(mode, std::move(connection), header)), started_(started) {
    capture_.realtime = true;
}

bool RealtimeRecording::room_for(std::size_t text_bytes) {
    if (capture_.realtime_events_not_recorded == 0 &&
        capture_.realtime_events.size() < limits::kRealtimeRecordingMaxEvents &&
        kept_text_bytes_ + text_bytes <= limits::kRealtimeRecordingMaxBytes) {
        kept_text_bytes_ += text_bytes;
        return true;
    }
    // Once cut, the recording stays cut: it never holds a later event without an earlier one.
    ++capture_.realtime_events_not_recorded;
    capture_.truncated = true;
    return false;
}

RealtimeEventCapture& RealtimeRecording::add(bool from_client, uint64_t bytes) {
    RealtimeEventCapture& event = capture_.realtime_events.emplace_back();
    event.offset_ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
    event.from_client = from_client;
    event.bytes = bytes;
    return event;
}

void RealtimeRecording::on_text_event(bool from_client, std::string_view text) {
    const std::string_view type = realtime::event_type(text);
    const bool keeps_text = capture_.mode == RecordMode::full && !realtime::is_audio_event(type);
    if (!room_for(type.size() + (keeps_text ? text.size() : 0))) return;
    RealtimeEventCapture& event = add(from_client, text.size());
    event.type = std::string(type);
    if (keeps_text)
        event.data = std::string(text);
    else if (capture_.mode == RecordMode::full)
        event.sha256 = sha256_hex(text);
}

void RealtimeRecording::on_binary_piece(bool from_client, std::string_view piece, bool last) {
    BinaryMessage& message = from_client ? from_client_binary_ : from_upstream_binary_;
    const bool hashes = capture_.mode == RecordMode::full;
    if (hashes && !message.hash && message.bytes == 0) message.hash.emplace();
    message.bytes += piece.size();
    if (message.hash) message.hash->update(piece);
    if (!last) return;
    const std::string sha256 = message.hash ? message.hash->finish_hex() : std::string();
    const uint64_t bytes = message.bytes;
    message = {};
    if (!room_for(0)) return;
    RealtimeEventCapture& event = add(from_client, bytes);
    event.binary = true;
    event.sha256 = sha256;
}

RequestCapture RealtimeRecording::take() { return std::move(capture_); }

}  // namespace sluice
