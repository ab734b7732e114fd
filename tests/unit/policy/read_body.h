// A request body and the strict reading's view of it (policy/json_view.h), for tests of the
// facts the gate reads from that view. Neither copied nor moved: the view points into `text`.
#pragma once

#include <string>
#include <string_view>

#include "policy/json_view.h"
#include "policy/request_reading.h"

namespace sluice {

struct ReadBody {
    explicit ReadBody(std::string body, std::string_view path = "/v1/chat/completions")
        : text(std::move(body)), reading(read_request_body(text, path, false, &view)) {}
    ReadBody(const ReadBody&) = delete;
    ReadBody& operator=(const ReadBody&) = delete;

    std::string text;
    JsonView view;
    RequestReading reading;
};

}  // namespace sluice
