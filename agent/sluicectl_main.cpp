// sluicectl: operate a running sluiced (or its pinned kernel state). See `sluicectl --help`.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/admin/admin_server.h"
#include "agent/config/config.h"
#include "agent/daemon/status_report.h"
#include "agent/loader/redirect_loader.h"

namespace {

constexpr const char* kUsage = R"(usage: sluicectl [--config FILE] COMMAND

Commands:
  status   what sluiced is doing: attached programs, target addresses with their expiry,
           counters. Without a running sluiced, shows what is pinned in the kernel.
  reload   re-read the API key file and reopen the audit file
  unload   detach every program this config's sluiced attached and remove its pins
           (connections to the targets then go out directly again)

  --config FILE   the sluiced configuration (default: built-in defaults)
  --help          show this help
)";

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    std::string command;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (arg == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (command.empty() && arg.rfind("--", 0) != 0) {
            command = arg;
        } else {
            std::fprintf(stderr, "sluicectl: unexpected argument '%s' (see --help)\n", arg.c_str());
            return 2;
        }
    }
    try {
        const sluice::Config config = config_path.empty() ? sluice::default_config() : sluice::load_config(config_path);
        if (command == "unload") {
            sluice::RedirectLoader::unload(config.pin_dir);
            std::printf("unloaded: programs detached and %s removed\n", config.pin_dir.c_str());
            return 0;
        }
        if (command == "status") {
            nlohmann::json status;
            try {
                status = sluice::admin_call(config.admin, {{"command", "status"}});
            } catch (const std::exception& e) {
                std::fprintf(stderr, "sluicectl: %s; showing pinned kernel state\n", e.what());
                status = {{"sluiced", "not running"},
                          {"kernel", sluice::loader_status_json(sluice::RedirectLoader::read_status(config.pin_dir))}};
            }
            std::printf("%s\n", status.dump(2).c_str());
            return status.contains("error") ? 1 : 0;
        }
        if (command == "reload") {
            const auto response = sluice::admin_call(config.admin, {{"command", "reload"}});
            std::printf("%s\n", response.dump(2).c_str());
            return response.contains("error") ? 1 : 0;
        }
        std::fprintf(stderr, "sluicectl: %s (see --help)\n",
                     command.empty() ? "no command given" : ("unknown command '" + command + "'").c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluicectl: %s\n", e.what());
        return 1;
    }
}
