// The network shell of fake-openai: Asio listeners and one coroutine per connection, on a
// strand, serving HTTP/1.1 keep-alive over TLS or plain TCP. Answers come from
// answer_request() (openai_replies.h); this file only moves bytes and applies timing knobs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/fake_openai/options.h"

namespace sluice::fake_openai {

class FakeOpenAiServer {
public:
    // Loads the certificate and opens --record; throws std::runtime_error naming what failed.
    explicit FakeOpenAiServer(const FakeOpenAiOptions& options);
    ~FakeOpenAiServer();
    FakeOpenAiServer(const FakeOpenAiServer&) = delete;
    FakeOpenAiServer& operator=(const FakeOpenAiServer&) = delete;

    // Binds and listens on every address; returns them as "host:port" with real ports.
    [[nodiscard]] std::vector<std::string> listen();
    // Serves until SIGINT or SIGTERM.
    void run();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace sluice::fake_openai
