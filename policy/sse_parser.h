// Incremental Server-Sent Events parser (WHATWG HTML §9.2): bytes in, complete events out,
// whatever the chunk boundaries. Pure; used for usage accounting and (later) stream masking.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sluice {

struct SseEvent {
    std::string event;  // "" when the event had no `event:` field
    std::string data;   // data lines joined with '\n'
    std::string id;
};

class SseParser {
public:
    using Sink = std::function<void(const SseEvent&)>;
    using CommentSink = std::function<void(std::string_view comment)>;  // text after the ':'
    explicit SseParser(std::size_t max_event_bytes = 8 * 1024 * 1024)
        : max_event_bytes_(max_event_bytes) {}

    // Feeds bytes; calls `sink` for each event completed by them. Returns false once an event
    // exceeds the size limit (the parser then stays failed).
    bool feed(std::string_view bytes, const Sink& sink);
    // The same, also reporting comment lines (keep-alives) to `comments`.
    bool feed(std::string_view bytes, const Sink& sink, const CommentSink& comments);
    bool failed() const { return failed_; }

private:
    void process_line(std::string_view line, const Sink& sink, const CommentSink* comments);

    const std::size_t max_event_bytes_;
    std::string line_;
    SseEvent pending_;
    bool has_data_ = false;
    bool last_was_cr_ = false;
    bool failed_ = false;
};

}  // namespace sluice
