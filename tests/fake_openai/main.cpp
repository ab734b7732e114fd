// fake-openai: a fake api.openai.com speaking OpenAI's wire format, for tests and benchmarks.
#include <cstdio>
#include <exception>

#include "tests/fake_openai/options.h"
#include "tests/fake_openai/server.h"

int main(int argc, char** argv) {
    using namespace sluice::fake_openai;
    try {
        const FakeOpenAiOptions options = parse_options(argc, argv);
        if (options.help) {
            std::fputs(usage_text(), stdout);
            return 0;
        }
        FakeOpenAiServer server(options);
        std::string line = "listening on";
        for (const auto& address : server.listen()) line += " " + address;
        line += options.plain ? " (plain http)" : " (tls)";
        std::printf("%s\n", line.c_str());
        std::fflush(stdout);
        server.run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fake-openai: %s\n", e.what());
        return 2;
    }
}
