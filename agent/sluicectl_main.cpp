// sluicectl: operate a running sluiced (or its pinned kernel state). See `sluicectl --help`.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/admin/admin_server.h"
#include "agent/audit/audit_commands.h"
#include "agent/audit/audit_signer.h"
#include "agent/config/config.h"
#include "agent/daemon/doctor.h"
#include "agent/daemon/status_report.h"
#include "agent/gate/policy_commands.h"
#include "agent/loader/redirect_loader.h"
#include "agent/recording/recording_store.h"
#include "agent/recording/recording_verify.h"
#include "agent/recording/session_commands.h"

namespace {

constexpr const char* kPackagedConfig = "/etc/sluice/sluiced.yaml";

constexpr const char* kUsage = R"(usage: sluicectl [--config FILE] COMMAND

Commands:
  status   what sluiced is doing: attached programs, target addresses with their expiry,
           counters, each upstream host's key file and why its key is unusable if it is.
           Without a running sluiced, shows what is pinned in the kernel; a user the admin
           socket does not answer gets "permission denied" and exit 1.
  reload   re-read the API key files and the policy, reopen the audit file (exit 1 when the
           policy is refused; the one in force stays)
  policy check [FILE]
           validate a policy file (default: the config's `policy`); exit 1 with one line
           naming file, line and key when it is invalid; "warning:" lines for rules whose
           globs only user-made names could meet, or that reach places users can write, and
           for a policy file every user may read
  policy explain [--policy FILE] [--user U | --uid N] [--group G]... [--unit X] [--slice S]
                 [--cgroup P] [--container ID] [--container-runtime R] [--container-name N]
                 [--container-image I] [--pod UID] [--exe PATH | --user-exe PATH]
                 [--user-unit X] [--user-slice S] [--user-cgroup P] [--user-container ID]
                 [--user-pod UID] [--oidc-subject S] [--model M]
                 [--method VERB] [--path P] [--max-tokens N] [--stream] [--prompt TEXT]
                 [--approved]
           print the decision for such a request, the rule that made it and why each earlier
           rule did not match (groups come from NSS unless --group is given; rate limits and
           budgets are described, not charged; --prompt is a prompt text for pattern and token
           conditions, --approved a request a person approved). --exe is an executable root
           alone could have placed, --user-exe one a user could have; --user-* names are what the user
           made in its own delegated cgroup subtree
  approvals list | show ID | approve ID [--reason TEXT] [--for DURATION] | deny ID [--reason TEXT]
           requests a rule holds for a person's approval (docs/approvals.md): list them, show
           one (who, what, why, how long it has waited), approve it (once, or with --for 15m
           the same identity and rule pass for that long) or deny it (the client gets 403
           approval_denied with the reason). Root or approvals.approvers may decide; nobody
           decides a request of their own. A rule's require_approval.min_approvers needs that
           many distinct approvers: approve then answers "partially_approved" and "1 of 2"
  audit verify [FILE...] [--pubkey FILE]
           walk the audit's hash chain and signed checkpoints (default: the config's audit
           path and its rotated files, and the public key in state_dir); names the first bad
           record. Exit 0 intact, 1 tampered (edited, deleted, reordered, missing file,
           forged checkpoint), 3 intact but with an unsealed tail (records after the last
           checkpoint: sluiced running, killed, or the tail cut). Crashes are reported.
           Each recording a line names is checked against its hash too (exit 1 if one does
           not match; recordings retention removed are counted as missing)
  audit pubkey
           print the public key (PEM) that verifies this host's audit checkpoints
  sessions list [--user U] [--since T] [--model M]
           recorded sessions (a rule's `record: metadata`, the default, or `full`;
           docs/recording.md): one per client connection or per run a client marks with an
           x-sluice-session header;
           --since takes 2h, 1d or an RFC 3339 time
  sessions show ID
           a readable transcript: who, each request and answer, tool calls and their outputs,
           tokens, decisions, event timing (ID: a session, a unique prefix, or a request id)
  sessions replay ID [--speed N]
           print the answers again with their original timing (N times faster)
  sessions export ID --format jsonl|har
           the session's recordings as JSON Lines, or as HAR 1.2 for browser dev tools
  sessions resend ID --to URL [--cacert FILE]
           send the recorded (masked) requests to URL, which must be given: never to the real
           upstream by default (OPENAI_API_KEY, if set, is sent as the key); compares each
           answer with the recorded one, exit 1 if any differs.
           Recordings are readable by root (and sluiced's user) only
  unload   detach every program this config's sluiced attached and remove its pins
           (connections to the targets then go out directly again)
  doctor [--json]
           whether enforcement works on this host: sluiced up and programs attached, targets
           resolved, API key loaded, policy, audit writable, and for each runtime found
           (curl/OpenSSL, python3 ssl/requests/httpx, node, java), as the invoking user, a
           verified TLS handshake to the first intercepted host through the redirect. A table
           with a fix for each failing line (--json for fleet tooling); exit 1 if any fails

  --config FILE   the sluiced configuration (default: /etc/sluice/sluiced.yaml, the packages'
                  config, when it exists; else the built-in defaults)
  --help          show this help
)";

int run_doctor(const sluice::Config& config, const std::vector<std::string>& args) {
    const bool json = args.size() == 1 && args[0] == "--json";
    if (!args.empty() && !json) {
        std::fprintf(stderr, "sluicectl doctor: takes only --json\n");
        return 2;
    }
    nlohmann::json status;
    std::string admin_error;
    try {
        status = sluice::admin_call(config.admin, {{"command", "status"}});
    } catch (const std::exception& e) {
        admin_error = e.what();
    }
    std::vector<sluice::DoctorLine> lines =
        sluice::check_daemon_status(status, admin_error, std::chrono::system_clock::now());
    if (!config.intercept.empty()) {
        auto runtimes = sluice::check_runtimes(config.intercept.front().host);
        lines.insert(lines.end(), runtimes.begin(), runtimes.end());
    }
    const nlohmann::json report = sluice::doctor_json(lines);
    if (json)
        std::printf("%s\n", report.dump(2).c_str());
    else
        std::fputs(sluice::format_doctor_table(lines).c_str(), stdout);
    return report["ok"].get<bool>() ? 0 : 1;
}

int run_policy_command(const sluice::Config& config, std::vector<std::string> args) {
    const std::string verb = args.empty() ? "" : args.front();
    if (!args.empty()) args.erase(args.begin());
    if (verb == "check") {
        if (args.size() > 1) {
            std::fprintf(stderr, "sluicectl policy check: takes one FILE\n");
            return 2;
        }
        return sluice::run_policy_check(args.empty() ? config.policy : args.front());
    }
    if (verb == "explain") {
        std::string path = config.policy;
        if (args.size() >= 2 && args[0] == "--policy") {
            path = args[1];
            args.erase(args.begin(), args.begin() + 2);
        }
        return sluice::run_policy_explain(path, args);
    }
    std::fprintf(stderr, "sluicectl policy: expected `check` or `explain` (see --help)\n");
    return 2;
}

}  // namespace

int run_approvals_command(const sluice::Config& config, const std::vector<std::string>& args) {
    const std::string verb = args.empty() ? "" : args.front();
    nlohmann::json request{{"command", "approvals"}, {"verb", verb}};
    std::size_t i = 1;
    if (verb == "show" || verb == "approve" || verb == "deny") {
        if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
            std::fprintf(stderr, "sluicectl approvals %s: needs an approval ID\n", verb.c_str());
            return 2;
        }
        request["id"] = args[1];
        i = 2;
    } else if (verb != "list") {
        std::fprintf(stderr,
                     "sluicectl approvals: expected list, show, approve or deny (see --help)\n");
        return 2;
    }
    for (; i < args.size(); ++i) {
        const bool takes_flags = verb == "approve" || verb == "deny";
        if (takes_flags && args[i] == "--reason" && i + 1 < args.size()) {
            request["reason"] = args[++i];
        } else if (verb == "approve" && args[i] == "--for" && i + 1 < args.size()) {
            request["for"] = args[++i];
        } else {
            std::fprintf(stderr, "sluicectl approvals %s: unexpected argument '%s'\n", verb.c_str(),
                         args[i].c_str());
            return 2;
        }
    }
    const nlohmann::json response = sluice::admin_call(config.admin, request);
    if (response.contains("error")) {
        std::fprintf(stderr, "sluicectl: %s\n", response["error"].get<std::string>().c_str());
        return 1;
    }
    std::printf("%s\n", response.dump(2).c_str());
    return 0;
}

int main(int argc, char** argv) {
    std::string config_path;
    std::string command;
    std::vector<std::string>
        command_args;  // everything after the command, for `policy` and `doctor`
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (command == "policy" || command == "doctor" || command == "approvals" ||
            command == "audit" || command == "sessions") {
            command_args.push_back(arg);
        } else if (arg == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (command.empty() && arg.rfind("--", 0) != 0) {
            command = arg;
        } else {
            std::fprintf(stderr, "sluicectl: unexpected argument '%s' (see --help)\n", arg.c_str());
            return 2;
        }
    }
    try {
        // An installed host's operator types `sluicectl status`: the package's config is the
        // default.
        if (config_path.empty() && ::access(kPackagedConfig, F_OK) == 0)
            config_path = kPackagedConfig;
        const sluice::Config config =
            config_path.empty() ? sluice::default_config() : sluice::load_config(config_path);
        if (command == "unload") {
            sluice::RedirectLoader::unload(config.pin_dir);
            std::printf("unloaded: programs detached and %s removed\n", config.pin_dir.c_str());
            return 0;
        }
        if (command == "status") {
            nlohmann::json status;
            try {
                status = sluice::admin_call(config.admin, {{"command", "status"}});
            } catch (const sluice::AdminAccessDenied& e) {
                std::fprintf(stderr, "sluicectl: %s\n", e.what());
                return 1;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "sluicectl: %s; showing pinned kernel state\n", e.what());
                status = {{"sluiced", "not running"},
                          {"kernel", sluice::loader_status_json(
                                         sluice::RedirectLoader::read_status(config.pin_dir))}};
            }
            std::printf("%s\n", status.dump(2).c_str());
            return status.contains("error") ? 1 : 0;
        }
        if (command == "reload") {
            const auto response = sluice::admin_call(config.admin, {{"command", "reload"}});
            std::printf("%s\n", response.dump(2).c_str());
            return response.contains("error") || !response.value("ok", true) ? 1 : 0;
        }
        if (command == "policy") return run_policy_command(config, command_args);
        if (command == "doctor") return run_doctor(config, command_args);
        if (command == "approvals") return run_approvals_command(config, command_args);
        if (command == "sessions")
            return sluice::run_sessions_command(config.state_dir + "/recordings",
                                                config.recording.key_file, command_args);
        if (command == "audit") {
            const std::string verb = command_args.empty() ? "" : command_args.front();
            const std::vector<std::string> rest(
                command_args.begin() + (command_args.empty() ? 0 : 1), command_args.end());
            if (verb == "verify") {
                const auto check_recordings = [&](const std::vector<sluice::AuditFileText>& files) {
                    std::string key;
                    if (!config.recording.key_file.empty())
                        key = sluice::load_recording_key(config.recording.key_file);
                    const sluice::RecordingStore store(config.state_dir + "/recordings", key,
                                                       false);
                    int exit = 0;
                    std::fputs(
                        sluice::describe(sluice::check_recordings(files, store), exit).c_str(),
                        stdout);
                    return exit;
                };
                return sluice::run_audit_verify(
                    rest, config.audit.path,
                    config.state_dir + "/" + std::string(sluice::kAuditPublicKeyFile),
                    check_recordings);
            }
            if (verb == "pubkey" && rest.empty()) return sluice::run_audit_pubkey(config.state_dir);
            std::fprintf(stderr,
                         "sluicectl audit: expected `verify [FILE...] [--pubkey FILE]` or `pubkey` "
                         "(see --help)\n");
            return 2;
        }
        std::fprintf(
            stderr, "sluicectl: %s (see --help)\n",
            command.empty() ? "no command given" : ("unknown command '" + command + "'").c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluicectl: %s\n", e.what());
        return 1;
    }
}
