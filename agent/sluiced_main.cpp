// sluiced: the sluice host daemon. See README.md and `sluiced --help`.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

#include "agent/config/config.h"
#include "agent/daemon/daemon.h"
#include "agent/tls/record_buffer_cache.h"

namespace {

constexpr const char* kUsage = R"(usage: sluiced [--config FILE] [--log-level LEVEL]

Redirects every connection this host makes to the intercepted hosts (api.openai.com by
default) into a local TLS proxy that holds the real API key, attributes each request to the
process, user and cgroup that made it, and writes an audit line per request.

  --config FILE      YAML configuration (default: built-in defaults, see README.md)
  --log-level LEVEL  trace | debug | info | warn | error (default: info)
  --help             show this help

Signals: SIGHUP re-reads the API key file and the policy (a policy that fails to load is refused
and the old one stays) and reopens the audit file; SIGINT/SIGTERM stop. The key and policy files
are also re-read when they change.
Stopping leaves the redirect in place (connections fail closed); `sluicectl unload` removes it.
Under systemd (sluiced.service, Type=notify) it reports READY=1 once programs are attached and
the listener accepts, pings WatchdogSec= while every proxy thread turns, and logs to the journal
with priorities (journalctl -u sluiced -p warning).
)";

}  // namespace

int main(int argc, char** argv) {
    const bool record_cache = sluice::install_record_buffer_cache();  // before any OpenSSL use
    std::string config_path;
    std::string log_level = "info";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if ((arg == "--config" || arg == "--log-level") && i + 1 < argc) {
            (arg == "--config" ? config_path : log_level) = argv[++i];
            continue;
        }
        std::fprintf(stderr, "sluiced: unknown argument '%s' (see --help)\n", arg.c_str());
        return 2;
    }
    // Under systemd, stderr is the journal (JOURNAL_STREAM): log to the journal directly instead,
    // one entry per message with its priority, so `journalctl -u sluiced -p warning` filters.
    if (std::getenv("JOURNAL_STREAM") != nullptr)
        spdlog::set_default_logger(std::make_shared<spdlog::logger>(
            "sluiced", std::make_shared<spdlog::sinks::systemd_sink_mt>("sluiced")));
    spdlog::set_level(spdlog::level::from_str(log_level));
    if (!record_cache)
        spdlog::warn("OpenSSL allocated before start-up: record buffers are not cached");
    try {
        const sluice::Config config =
            config_path.empty() ? sluice::default_config() : sluice::load_config(config_path);
        return sluice::run_daemon(config);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluiced: %s\n", e.what());
        return 1;
    }
}
