#include "agent/daemon/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/admin/admin_server.h"
#include "agent/audit/audit_writer.h"
#include "agent/daemon/status_report.h"
#include "agent/identity/identity.h"
#include "agent/loader/redirect_loader.h"
#include "agent/proxy/proxy_server.h"
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

ConnectionOrigin origin_of(const sluice_conn_meta& meta, IdentityResolver& identities) {
    namespace ip = boost::asio::ip;
    ConnectionOrigin origin;
    ip::address_v6::bytes_type bytes;
    std::copy(std::begin(meta.orig_addr), std::end(meta.orig_addr), bytes.begin());
    const ip::address_v6 v6(bytes);
    const ip::address address = v6.is_v4_mapped() ? ip::address(ip::make_address_v4(ip::v4_mapped, v6)) : ip::address(v6);
    origin.original_destination = ip::tcp::endpoint(address, ntohs(meta.orig_port));
    const std::string comm(meta.comm, strnlen(meta.comm, sizeof meta.comm));
    origin.identity = identities.resolve(meta.tgid, meta.uid, meta.gid, comm, meta.cgroup_id).to_json();
    origin.uid = meta.uid;
    return origin;
}

}  // namespace

int run_daemon(const Config& config) {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
    // Blocked before any thread starts, so only the loop below receives them.
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    CertificateAuthority ca = CertificateAuthority::load_or_create(config.state_dir, intercepted_hosts(config));
    spdlog::info("CA certificate: {} (clients must trust it)", ca.ca_cert_path());
    const auto upstream_context = make_upstream_client_context(extra_ca_file(config));
    ApiKeyStore api_keys(config.upstream.begin()->second.api_key_file);
    spdlog::info("{}", api_keys.reload());
    AuditWriter audit(config.audit.path);
    if (std::filesystem::exists(config.policy))
        spdlog::warn("policy {} is present but this version does not enforce policies yet: every "
                     "request is allowed and audited", config.policy);

    const std::string cgroup_root = find_cgroup2_root();
    IdentityResolver identities(IdentitySources{cgroup_root, "/proc"});

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
            return origin_of(*meta, identities);
        },
        [&](const std::string& sni) { return ca.server_context_for(sni); },
        [&] { return upstream_context; },
        api_keys,
        audit,
        {}};
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    ProxyServer proxy(proxy_context, threads);
    proxy.start();

    TargetResolver resolver(config.intercept, [&](const std::vector<ResolvedTarget>& targets) {
        try {
            loader->replace_targets(to_target_entries(targets));
            spdlog::info("targets: {} addresses", targets.size());
            for (const auto& target : targets) spdlog::debug("target {}", format_target(target));
        } catch (const std::exception& e) {
            spdlog::error("targets: {}", e.what());
        }
    });
    resolver.start();

    AdminServer admin(config.admin);
    admin.on("status", [&](const nlohmann::json&) {
        return status_report(config, loader->status(), resolver.snapshot(), proxy_context.counters, audit.stats(),
                             api_keys.key() != nullptr);
    });
    admin.on("reload", [&](const nlohmann::json&) {
        const std::string outcome = api_keys.reload();
        audit.reopen();
        return nlohmann::json{{"ok", true}, {"api_key", outcome}};
    });
    admin.start();

    spdlog::info("ready: proxy on {}:{}, programs attached at {}, {} threads", config.listen.host,
                 config.listen.port, loader->cgroup_path(), threads);

    for (;;) {
        timespec tick{1, 0};
        const int signal = sigtimedwait(&signals, nullptr, &tick);
        if (signal == SIGHUP) {
            spdlog::info("SIGHUP: {}", api_keys.reload());
            audit.reopen();
        } else if (signal == SIGINT || signal == SIGTERM) {
            spdlog::info("stopping (the redirect stays in place: target connections fail closed "
                         "until sluiced is back; `sluicectl unload` removes it)");
            break;
        } else if (api_keys.reload_if_changed()) {
            spdlog::info("api key file changed: reloaded");
        }
    }
    admin.stop();
    resolver.stop();
    proxy.stop();
    audit.flush();
    return 0;
}

}  // namespace sluice
