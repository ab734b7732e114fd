// --record: one JSON line per request, flushed as written so a test can read it at once.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::fake_openai {

struct RecordedRequest {
    std::string_view method;
    std::string_view target;
    std::vector<std::pair<std::string_view, std::string_view>> headers;  // as received, in order
    std::string_view body;  // at most kMaxRecordedBodyBytes
    std::uint64_t body_bytes = 0;
};

// The line written for one request: {"ts_ms","method","path","headers":{lowercase name: value,
// repeated names joined with ", "},"header_list":[[name,value],...],"body","body_bytes",
// "body_truncated"}.
[[nodiscard]] std::string format_record_line(const RecordedRequest& request, std::int64_t ts_ms);

class RequestRecorder {
public:
    // Throws std::runtime_error naming the file when it cannot be opened.
    explicit RequestRecorder(const std::string& path);
    void record(const RecordedRequest& request);

private:
    struct FileCloser {
        void operator()(std::FILE* file) const { std::fclose(file); }
    };
    std::mutex mutex_;  // guards file_: sessions on every I/O thread record
    std::unique_ptr<std::FILE, FileCloser> file_;
};

}  // namespace sluice::fake_openai
