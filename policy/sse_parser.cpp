#include "policy/sse_parser.h"

#include <algorithm>

namespace sluice {

bool SseParser::feed(std::string_view bytes, const Sink& sink) {
    return feed(bytes, sink, CommentSink{});
}

bool SseParser::feed(std::string_view bytes, const Sink& sink, const CommentSink& comments) {
    if (failed_) return false;
    const CommentSink* comment_sink = comments ? &comments : nullptr;
    // Line text is taken a run at a time, between line ends, and a line that lies whole in
    // `bytes` is read where it lies: a relayed stream passes through here piece by piece.
    std::size_t at = 0;
    std::size_t next_lf = bytes.find('\n'), next_cr = bytes.find('\r');
    while (at < bytes.size()) {
        const char c = bytes[at];
        if (c == '\r' || c == '\n') {
            const bool lf_of_crlf = c == '\n' && last_was_cr_;
            last_was_cr_ = c == '\r';
            ++at;
            if (lf_of_crlf) continue;  // the CR already ended the line
            process_line(line_, sink, comment_sink);
            line_.clear();
            continue;
        }
        last_was_cr_ = false;
        if (next_lf < at) next_lf = bytes.find('\n', at);
        if (next_cr < at) next_cr = bytes.find('\r', at);
        const std::size_t end = std::min(next_lf, next_cr);
        const std::string_view run = bytes.substr(at, end - at);
        if (line_.size() + run.size() + pending_.data.size() > max_event_bytes_) {
            failed_ = true;
            return false;
        }
        if (line_.empty() && end != std::string_view::npos) {
            last_was_cr_ = bytes[end] == '\r';
            at = end + 1;
            process_line(run, sink, comment_sink);
            continue;
        }
        line_.append(run);
        at += run.size();
    }
    return true;
}

void SseParser::process_line(std::string_view line, const Sink& sink, const CommentSink* comments) {
    if (line.empty()) {  // blank line dispatches the event
        if (has_data_ || !pending_.event.empty()) sink(pending_);
        pending_.event.clear();  // cleared, not replaced: the next event reuses their buffers
        pending_.data.clear();
        pending_.id.clear();
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
