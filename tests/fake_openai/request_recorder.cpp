#include "tests/fake_openai/request_recorder.h"

#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace sluice::fake_openai {

std::string format_record_line(const RecordedRequest& request, std::int64_t ts_ms) {
    using json = nlohmann::ordered_json;
    json headers = json::object();
    json header_list = json::array();
    for (const auto& [name, value] : request.headers) {
        std::string key(name);
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto it = headers.find(key);
        if (it == headers.end()) {
            headers[key] = value;
        } else {
            *it = it->get<std::string>() + ", " + std::string(value);
        }
        header_list.push_back(json::array({name, value}));
    }
    const json line = {{"ts_ms", ts_ms},
                       {"method", request.method},
                       {"path", request.target},
                       {"headers", headers},
                       {"header_list", header_list},
                       {"body", request.body},
                       {"body_bytes", request.body_bytes},
                       {"body_truncated", request.body.size() < request.body_bytes}};
    // Bodies may be binary uploads: invalid UTF-8 becomes U+FFFD rather than an exception.
    return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

RequestRecorder::RequestRecorder(const std::string& path) : file_(std::fopen(path.c_str(), "a")) {
    if (!file_) throw std::runtime_error("--record: cannot open " + path + " for appending");
}

void RequestRecorder::record(const RecordedRequest& request) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const std::string line = format_record_line(
        request, std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    std::lock_guard lock(mutex_);
    std::fwrite(line.data(), 1, line.size(), file_.get());
    std::fflush(file_.get());
}

}  // namespace sluice::fake_openai
