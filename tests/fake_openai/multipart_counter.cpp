#include "tests/fake_openai/multipart_counter.h"

#include <algorithm>
#include <cctype>

#include "tests/fake_openai/limits.h"

namespace sluice::fake_openai {
namespace {

std::string lowercase(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Value of `name=...` (quoted or not) in a header value such as Content-Disposition.
std::string header_parameter(std::string_view header, std::string_view name) {
    const std::string lower = lowercase(header);
    const std::string key = std::string(name) + "=";
    for (std::size_t at = lower.find(key); at != std::string::npos; at = lower.find(key, at + 1)) {
        // Must start a parameter: `filename=` must not match inside `xfilename=`.
        if (at != 0 && lower[at - 1] != ';' && lower[at - 1] != ' ' && lower[at - 1] != '\t')
            continue;
        std::string_view rest = header.substr(at + key.size());
        if (!rest.empty() && rest.front() == '"') {
            rest.remove_prefix(1);
            return std::string(rest.substr(0, rest.find('"')));
        }
        return std::string(rest.substr(0, rest.find_first_of("; \t\r\n")));
    }
    return {};
}

}  // namespace

std::string multipart_boundary(std::string_view content_type) {
    if (!lowercase(content_type).starts_with("multipart/form-data")) return {};
    return header_parameter(content_type, "boundary");
}

MultipartFileCounter::MultipartFileCounter(std::string boundary)
    // The first delimiter has no CRLF before it; pretend one arrived so all delimiters match.
    : delimiter_("\r\n--" + boundary), pending_("\r\n") {
    if (boundary.empty()) state_ = State::kBroken;
}

void MultipartFileCounter::consume(std::string_view bytes) {
    if (state_ == State::kBroken || state_ == State::kEpilogue) return;
    pending_.append(bytes);
    std::size_t pos = 0;
    for (bool progress = true; progress;) {
        progress = false;
        switch (state_) {
            case State::kPreamble:
            case State::kPartData: {
                const std::size_t found = pending_.find(delimiter_, pos);
                if (found == std::string::npos) {
                    // Keep a tail that may be the start of a delimiter split across reads.
                    const std::size_t keep = std::min(pending_.size() - pos, delimiter_.size() - 1);
                    const std::size_t usable = pending_.size() - pos - keep;
                    if (state_ == State::kPartData) take_part_data({pending_.data() + pos, usable});
                    pos += usable;
                    break;
                }
                if (state_ == State::kPartData)
                    take_part_data({pending_.data() + pos, found - pos});
                pos = found + delimiter_.size();
                state_ = State::kAfterDelimiter;
                progress = true;
                break;
            }
            case State::kAfterDelimiter: {
                if (pending_.size() - pos < 2) break;
                const std::string_view next(pending_.data() + pos, 2);
                if (next == "--") {
                    state_ = State::kEpilogue;
                } else if (next == "\r\n") {
                    state_ = State::kPartHeaders;
                    progress = true;
                } else {
                    state_ = State::kBroken;
                }
                pos += 2;
                break;
            }
            case State::kPartHeaders: {
                const std::size_t end = pending_.find("\r\n\r\n", pos);
                if (end == std::string::npos) {
                    if (pending_.size() - pos > kMaxMultipartHeaderBytes) state_ = State::kBroken;
                    break;
                }
                start_part(std::string_view(pending_).substr(pos, end - pos));
                pos = end + 4;
                state_ = State::kPartData;
                progress = true;
                break;
            }
            case State::kEpilogue:
            case State::kBroken:
                break;
        }
    }
    pending_.erase(0, pos);
    if (state_ == State::kEpilogue || state_ == State::kBroken) pending_.clear();
}

void MultipartFileCounter::start_part(std::string_view headers) {
    part_name_.clear();
    field_value_.clear();
    part_is_file_ = false;
    std::size_t line_start = 0;
    while (line_start < headers.size()) {
        std::size_t line_end = headers.find("\r\n", line_start);
        if (line_end == std::string_view::npos) line_end = headers.size();
        const std::string_view line = headers.substr(line_start, line_end - line_start);
        if (lowercase(line.substr(0, 20)).starts_with("content-disposition:")) {
            part_name_ = header_parameter(line, "name");
            const std::string filename = header_parameter(line, "filename");
            if (!filename.empty() || part_name_ == "file") {
                part_is_file_ = true;
                summary_.found_file = true;
                summary_.filename = filename;
                summary_.file_bytes = 0;
            }
        }
        line_start = line_end + 2;
    }
}

void MultipartFileCounter::take_part_data(std::string_view bytes) {
    if (part_is_file_) {
        summary_.file_bytes += bytes.size();
        return;
    }
    if (part_name_ != "purpose") return;
    const std::size_t room =
        kMaxMultipartFieldBytes - std::min(kMaxMultipartFieldBytes, field_value_.size());
    field_value_.append(bytes.substr(0, room));
    summary_.purpose = field_value_;
}

UploadSummary MultipartFileCounter::finish() const {
    UploadSummary summary = summary_;
    summary.malformed = state_ != State::kEpilogue;
    return summary;
}

}  // namespace sluice::fake_openai
