#include "agent/daemon/daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/admin/admin_server.h"
#include "agent/audit/audit_writer.h"
#include "agent/audit/incomplete_requests.h"
#include "agent/daemon/status_report.h"
#include "agent/gate/audit_text.h"
#include "agent/gate/host_secret.h"
#include "agent/gate/policy_identity.h"
#include "agent/gate/policy_state_file.h"
#include "agent/gate/policy_status.h"
#include "agent/gate/policy_store.h"
#include "agent/gate/request_gate.h"
#include "agent/identity/identity.h"
#include "agent/loader/redirect_loader.h"
#include "agent/oidc/oidc_authenticator.h"
#include "agent/proxy/proxy_server.h"
#include "agent/proxy/recent_identities.h"
#include "agent/proxy/shared_identities.h"
#include "agent/resolver/target_resolver.h"
#include "agent/tls/certificate_authority.h"
#include "agent/tls/upstream_tls.h"
#include "agent/upstream/api_key_store.h"

namespace sluice {

namespace {

std::vector<std::string> intercepted_hosts(const Config& config) {
    std::vector<std::string> hosts;
    for (const auto& target : config.intercept) hosts.push_back(target.host);
    return hosts;
}

std::string extra_ca_file(const Config& config) {
    // One client context serves every upstream; their extra CA bundles are all trusted.
    for (const auto& [host, upstream] : config.upstream)
        if (!upstream.ca_file.empty()) return upstream.ca_file;
    return {};
}

std::vector<TargetEntry> to_target_entries(const std::vector<ResolvedTarget>& resolved) {
    std::vector<TargetEntry> entries;
    for (const auto& target : resolved) entries.push_back(TargetEntry{target.addr, target.port, target.expires_unix_s});
    return entries;
}

ConnectionOrigin origin_of(const sluice_conn_meta& meta, IdentityResolver& identities,
                           SharedIdentities& shared, const PolicyStore& policies) {
    namespace ip = boost::asio::ip;
    ConnectionOrigin origin;
    ip::address_v6::bytes_type bytes;
    std::copy(std::begin(meta.orig_addr), std::end(meta.orig_addr), bytes.begin());
    const ip::address_v6 v6(bytes);
    const ip::address address = v6.is_v4_mapped() ? ip::address(ip::make_address_v4(ip::v4_mapped, v6)) : ip::address(v6);
    origin.original_destination = ip::tcp::endpoint(address, ntohs(meta.orig_port));
    ConnectingProcess process{meta.tgid, meta.uid, meta.gid, meta.cgroup_id,
                              std::string(meta.comm, strnlen(meta.comm, sizeof meta.comm))};
    thread_local RecentIdentities recent;  // each proxy thread looks up its own connections
    const auto now = RecentIdentities::Clock::now();
    origin.identity = recent.find(process, now);
    if (!origin.identity) {
        Identity identity = identities.resolve(meta.tgid, meta.uid, meta.gid, process.comm, meta.cgroup_id);
        // The audit keeps no command-line value the policy would mask or refuse to send.
        identity.cmdline = audit_safe_text(policies.current().get(), identity.cmdline);
        origin.identity = shared.share(
            {identity.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
             to_policy_identity(identity)});
        recent.remember(process, origin.identity, now);
    }
    origin.uid = meta.uid;
    return origin;
}

// A proxied connection holds two descriptors (client and upstream) and an idle pool more: the
// usual soft limit of 1024 would refuse connections long before memory runs short. The hard
// limit is the operator's (systemd's LimitNOFILE=).
void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) spdlog::warn("cannot raise the open files limit: {}", std::strerror(errno));
}

void log_policy_outcome(const PolicyReloadOutcome& outcome) {
    if (outcome.ok) spdlog::info("{}", outcome.message);
    else spdlog::error("{}", outcome.message);
}

}  // namespace

int run_daemon(const Config& config) {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
    // Blocked before any thread starts, so only the loop below receives them.
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    raise_descriptor_limit();

    CertificateAuthority ca = CertificateAuthority::load_or_create(config.state_dir, intercepted_hosts(config));
    spdlog::info("CA certificate: {} (clients must trust it)", ca.ca_cert_path());
    const auto upstream_context = make_upstream_client_context(extra_ca_file(config));
    ApiKeyStore api_keys(config.upstream.begin()->second.api_key_file);
    spdlog::info("{}", api_keys.reload());
    AuditWriter audit(config.audit.path);
    if (const std::size_t incomplete = record_incomplete_requests(config.audit.path, audit))
        spdlog::warn("audit: {} request(s) were forwarded before sluiced last stopped and never completed; "
                     "each is recorded with reason sluiced_stopped", incomplete);
    PolicyStore policies(config.policy);
    spdlog::info("{}", policies.load_initial());
    PolicyState policy_state;
    PolicyStateFile policy_state_file(config.state_dir);
    spdlog::info("{}", policy_state_file.restore(policy_state));
    RequestGate gate(policies, policy_state);
    OidcAuthenticator oidc(config.oidc);
    const std::string host_secret = load_or_create_host_secret(config.state_dir + "/host-secret");
    if (oidc.enabled()) spdlog::info("oidc: {} issuer(s); tokens presented as API keys are verified", config.oidc.size());
    const auto save_policy_state = [&] {
        if (const std::string error = policy_state_file.save(policy_state); !error.empty()) spdlog::error("{}", error);
    };

    const std::string cgroup_root = find_cgroup2_root();
    IdentityResolver identities(IdentitySources{cgroup_root, "/proc"});
    SharedIdentities shared_identities;

    LoaderOptions loader_options;
    loader_options.cgroup_path = config.cgroup;
    loader_options.pin_dir = config.pin_dir;
    loader_options.proxy_host = config.listen.host;
    loader_options.proxy_port = config.listen.port;
    loader_options.fail_open = config.failure_mode == FailureMode::open;
    loader_options.exempt_tgid = static_cast<uint32_t>(::getpid());
    std::unique_ptr<RedirectLoader> loader = RedirectLoader::load(loader_options);

    ProxyContext proxy_context{
        config,
        [&](const boost::asio::ip::tcp::endpoint& client) -> std::optional<ConnectionOrigin> {
            auto meta = loader->take_connection(client.data(), static_cast<socklen_t>(client.size()));
            if (!meta) return std::nullopt;
            return origin_of(*meta, identities, shared_identities, policies);
        },
        [&](const std::string& sni) { return ca.server_context_for(sni); },
        [&] { return upstream_context; },
        api_keys,
        audit,
        gate,
        oidc,
        host_secret,
        {},
        SniRoutingTable{intercepted_hosts(config), config.passthrough_sni},
        {}};
    TargetResolver resolver(config.intercept, [&](const std::vector<ResolvedTarget>& targets) {
        try {
            loader->replace_targets(to_target_entries(targets));
            spdlog::info("targets: {} addresses", targets.size());
            for (const auto& target : targets) spdlog::debug("target {}", format_target(target));
        } catch (const std::exception& e) {
            spdlog::error("targets: {}", e.what());
        }
    });
    proxy_context.host_for_address = [&](const boost::asio::ip::address& address) {
        const IpAddress key = address.is_v4() ? v4_mapped(address.to_v4().to_bytes()) : address.to_v6().to_bytes();
        return resolver.host_for_address(key);
    };
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    ProxyServer proxy(proxy_context, threads);
    proxy.start();
    resolver.start();

    AdminServer admin(config.admin);
    admin.on("status", [&](const nlohmann::json&) {
        nlohmann::json report = status_report(config, loader->status(), resolver.snapshot(), proxy_context.counters,
                                              audit.stats(), api_keys.key() != nullptr);
        report["policy"] = policy_status_json(policies, policy_state);
        report["oidc"] = oidc_status_json(oidc.status());
        if (const std::string problem = api_keys.problem(); !problem.empty()) report["api_key_problem"] = problem;
        return report;
    });
    admin.on("reload", [&](const nlohmann::json&) {
        const std::string key_outcome = api_keys.reload();
        const PolicyReloadOutcome policy_outcome = policies.reload();
        log_policy_outcome(policy_outcome);
        audit.reopen();
        return nlohmann::json{{"ok", policy_outcome.ok}, {"api_key", key_outcome}, {"policy", policy_outcome.message}};
    });
    admin.start();

    spdlog::info("ready: proxy on {}:{}, programs attached at {}, {} threads", config.listen.host,
                 config.listen.port, loader->cgroup_path(), threads);

    constexpr int kPolicyStateSaveEveryTicks = 5;
    for (int tick_count = 1;; ++tick_count) {
        timespec tick{1, 0};
        const int signal = sigtimedwait(&signals, nullptr, &tick);
        if (tick_count % kPolicyStateSaveEveryTicks == 0) save_policy_state();
        if (signal == SIGHUP) {
            spdlog::info("SIGHUP: {}", api_keys.reload());
            log_policy_outcome(policies.reload());
            audit.reopen();
        } else if (signal == SIGINT || signal == SIGTERM) {
            spdlog::info("stopping (the redirect stays in place: target connections fail closed "
                         "until sluiced is back; `sluicectl unload` removes it)");
            break;
        } else {
            if (api_keys.reload_if_changed()) spdlog::info("api key file changed: reloaded");
            if (auto outcome = policies.reload_if_changed()) log_policy_outcome(*outcome);
        }
    }
    admin.stop();
    resolver.stop();
    proxy.stop();
    save_policy_state();
    audit.flush();
    return 0;
}

}  // namespace sluice
