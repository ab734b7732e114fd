// Streams past a multipart/form-data body and counts the bytes of its file part, without
// keeping the body: uploads to /v1/files can be far larger than we want in memory.
#pragma once

#include <string>
#include <string_view>

#include "tests/fake_openai/openai_replies.h"

namespace sluice::fake_openai {

// The boundary parameter of a multipart/form-data Content-Type, or "" when there is none.
[[nodiscard]] std::string multipart_boundary(std::string_view content_type);

class MultipartFileCounter {
public:
    explicit MultipartFileCounter(std::string boundary);

    // Feed the body in pieces of any size, split anywhere.
    void consume(std::string_view bytes);
    // The summary once the whole body was fed; malformed if the closing delimiter never came.
    [[nodiscard]] UploadSummary finish() const;

private:
    enum class State { kPreamble, kAfterDelimiter, kPartHeaders, kPartData, kEpilogue, kBroken };

    void start_part(std::string_view headers);
    void take_part_data(std::string_view bytes);

    std::string delimiter_;  // "\r\n--" + boundary
    State state_ = State::kPreamble;
    std::string pending_;  // unconsumed bytes: at most a delimiter's worth, or part headers
    bool part_is_file_ = false;
    std::string part_name_;
    std::string field_value_;
    UploadSummary summary_;
};

}  // namespace sluice::fake_openai
