#include "policy/sse_parser.h"

namespace sluice {

bool SseParser::feed(std::string_view bytes, const Sink& sink) {
    return feed(bytes, sink, CommentSink{});
}

bool SseParser::feed(std::string_view bytes, const Sink& sink, const CommentSink& comments) {
    if (failed_) return false;
    const CommentSink* comment_sink = comments ? &comments : nullptr;
    for (char c : bytes) {
        if (c == '\n' && last_was_cr_) {  // the LF of a CRLF pair already ended the line
            last_was_cr_ = false;
            continue;
        }
        last_was_cr_ = (c == '\r');
        if (c == '\r' || c == '\n') {
            process_line(line_, sink, comment_sink);
            line_.clear();
            continue;
        }
        line_.push_back(c);
        if (line_.size() + pending_.data.size() > max_event_bytes_) {
            failed_ = true;
            return false;
        }
    }
    return true;
}

void SseParser::process_line(std::string_view line, const Sink& sink, const CommentSink* comments) {
    if (line.empty()) {  // blank line dispatches the event
        if (has_data_ || !pending_.event.empty()) sink(pending_);
        pending_ = SseEvent{};
        has_data_ = false;
        return;
    }
    if (line.front() == ':') {  // comment
        if (comments) (*comments)(line.substr(1));
        return;
    }
    std::string_view field = line;
    std::string_view value;
    if (auto colon = line.find(':'); colon != std::string_view::npos) {
        field = line.substr(0, colon);
        value = line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
        if (has_data_) pending_.data.push_back('\n');
        pending_.data.append(value);
        has_data_ = true;
    } else if (field == "event") {
        pending_.event.assign(value);
    } else if (field == "id") {
        pending_.id.assign(value);
    }
}

}  // namespace sluice
