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
#include "agent/gate/policy_state_file.h"
#include "agent/gate/policy_status.h"
#include "agent/gate/policy_store.h"
#include "agent/gate/request_gate.h"
#include "agent/identity/connection_attribution.h"
#include "agent/identity/identity.h"
#include "agent/loader/redirect_loader.h"
#include "agent/oidc/oidc_authenticator.h"
#include "agent/proxy/proxy_server.h"
#include "agent/resolver/target_resolver.h"
#include "agent/tls/certificate_authority.h"
#include "agent/upstream/upstream_hosts.h"

namespace sluice {

namespace {

std::vector<std::string> intercepted_hosts(const Config& config) {
    std::vector<std::string> hosts;
    for (const auto& target : config.intercept) hosts.push_back(target.host);
    return hosts;
}

std::vector<TargetEntry> to_target_entries(const std::vector<ResolvedTarget>& resolved) {
    std::vector<TargetEntry> entries;
    for (const auto& target : resolved) entries.push_back(TargetEntry{target.addr, target.port, target.expires_unix_s});
    return entries;
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
    UpstreamHosts upstreams(config);
    spdlog::info("api keys: {}", upstreams.reload());
    for (const auto& target : config.intercept)
        if (upstreams.find(target.host) == nullptr)
            spdlog::warn("{} has no upstream entry (no key): its requests get 503 upstream_not_configured", target.host);
    AuditWriterOptions audit_options;
    audit_options.path = config.audit.path;
    audit_options.rotate_bytes = config.audit.rotate_bytes;
    audit_options.rotate_interval = std::chrono::seconds(config.audit.rotate_interval_s);
    audit_options.keep_files = config.audit.keep_files;
    audit_options.checkpoint_records = config.audit.checkpoint_records;
    audit_options.checkpoint_interval = std::chrono::seconds(config.audit.checkpoint_interval_s);
    audit_options.signer = std::make_shared<const AuditSigner>(AuditSigner::load_or_create(config.state_dir));
    spdlog::info("audit: checkpoints signed with key {} ({}/{})", audit_options.signer->key_id(), config.state_dir,
                 kAuditPublicKeyFile);
    AuditWriter audit(std::move(audit_options));
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
    // The audit keeps no command-line value the policy in force would mask or refuse to send.
    ConnectionAttribution attribution(identities, [&](const std::string& cmdline) {
        return audit_safe_text(policies.current().get(), cmdline);
    });

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
        [&](const boost::asio::ip::tcp::endpoint& client, RecentIdentities& recent) -> std::optional<ConnectionOrigin> {
            auto meta = loader->take_connection(client.data(), static_cast<socklen_t>(client.size()));
            if (!meta) return std::nullopt;
            return attribution.origin_of(*meta, recent);
        },
        [&](const std::string& sni) { return ca.server_context_for(sni); },
        upstreams,
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
                                              audit.stats(), upstreams.all_keys_loaded());
        report["policy"] = policy_status_json(policies, policy_state);
        report["oidc"] = oidc_status_json(oidc.status());
        report["upstreams"] = upstreams.status_json();
        return report;
    });
    // SIGHUP and `sluicectl reload` do the same: keys, policy (a bad one keeps the old), audit file.
    const auto reload = [&] {
        const std::string key_outcome = upstreams.reload();
        spdlog::info("api keys: {}", key_outcome);
        const PolicyReloadOutcome policy_outcome = policies.reload();
        log_policy_outcome(policy_outcome);
        audit.reopen();
        return nlohmann::json{{"ok", policy_outcome.ok}, {"api_key", key_outcome}, {"policy", policy_outcome.message}};
    };
    admin.on("reload", [&](const nlohmann::json&) { return reload(); });
    admin.start();

    spdlog::info("ready: proxy on {}:{}, programs attached at {}, {} threads", config.listen.host,
                 config.listen.port, loader->cgroup_path(), threads);

    constexpr int kPolicyStateSaveEveryTicks = 5;
    for (int tick_count = 1;; ++tick_count) {
        timespec tick{1, 0};
        const int signal = sigtimedwait(&signals, nullptr, &tick);
        if (tick_count % kPolicyStateSaveEveryTicks == 0) save_policy_state();
        if (signal == SIGHUP) {
            spdlog::info("SIGHUP: reloading");
            reload();
        } else if (signal == SIGINT || signal == SIGTERM) {
            spdlog::info("stopping (the redirect stays in place: target connections fail closed "
                         "until sluiced is back; `sluicectl unload` removes it)");
            break;
        } else {
            if (upstreams.reload_if_changed()) spdlog::info("an api key file changed: reloaded");
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
