#include "agent/daemon/daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/admin/admin_server.h"
#include "agent/approvals/approval_commands.h"
#include "agent/approvals/approval_registry.h"
#include "agent/approvals_web/approvals_web_server.h"
#include "agent/audit/audit_writer.h"
#include "agent/audit/incomplete_requests.h"
#include "agent/audit_shipping/audit_shipper.h"
#include "agent/common/time_format.h"
#include "agent/daemon/metrics_report.h"
#include "agent/daemon/service_manager.h"
#include "agent/daemon/status_report.h"
#include "agent/gate/audit_text.h"
#include "agent/gate/host_secret.h"
#include "agent/gate/policy_state_file.h"
#include "agent/gate/policy_status.h"
#include "agent/gate/policy_store.h"
#include "agent/gate/request_gate.h"
#include "agent/identity/connection_attribution.h"
#include "agent/identity/identity.h"
#include "agent/loader/netns_watch.h"
#include "agent/loader/redirect_loader.h"
#include "agent/metrics/metrics_server.h"
#include "agent/netns/namespace_server.h"
#include "agent/notify/webhook_notifier.h"
#include "agent/oidc/oidc_authenticator.h"
#include "agent/proxy/proxy_server.h"
#include "agent/recording/session_recorder.h"
#include "agent/resolver/target_resolver.h"
#include "agent/state_store/redis_accounting.h"
#include "agent/tls/certificate_authority.h"
#include "agent/upstream/upstream_hosts.h"

namespace sluice {

namespace {

// audit.ship: one lane per collector named in the config; null when none is.
std::unique_ptr<AuditShipper> make_audit_shipper(const Config& config) {
    const AuditShipConfig& ship = config.audit.ship;
    if (!ship.enabled()) return nullptr;
    const CollectorTls tls{ship.tls_ca_file, ship.tls_server_name};
    std::vector<ShipDestination> destinations;
    for (const auto& [name, url] :
         {std::pair{"syslog", ship.syslog}, std::pair{"otlp", ship.otlp}}) {
        if (url.empty()) continue;
        const auto parsed = parse_collector_url(url);
        if (!parsed)
            throw std::runtime_error("audit.ship." + std::string(name) + ": bad URL " + url);
        destinations.push_back({name, url,
                                std::string(name) == "syslog" ? make_syslog_sender(*parsed, tls)
                                                              : make_otlp_sender(*parsed, tls)});
        spdlog::info("audit: shipping to {} {}", name, url);
    }
    AuditShipperOptions options;
    options.spool_dir = config.state_dir + "/audit-spool";
    options.spool_max_bytes = ship.spool_max_bytes;
    options.batch_records = ship.batch_records;
    options.fail_closed = config.failure_mode == FailureMode::closed;
    return std::make_unique<AuditShipper>(std::move(options), std::move(destinations));
}

// failure_mode open: what the spools dropped past their bound is itself on the record.
void audit_shipping_drops(AuditShipper& shipper, AuditWriter& audit) {
    for (const auto& [destination, count] : shipper.take_dropped()) {
        spdlog::error("audit shipping {}: spool full, dropped the oldest {} line(s)", destination,
                      count);
        audit.write({{"ts", format_utc_now()},
                     {"kind", "audit_ship_dropped"},
                     {"destination", destination},
                     {"records", count},
                     {"reason", "spool past its bound with failure_mode open: oldest dropped"}});
    }
}

std::vector<std::string> intercepted_hosts(const Config& config) {
    std::vector<std::string> hosts;
    for (const auto& target : config.intercept) hosts.push_back(target.host);
    return hosts;
}

std::vector<TargetEntry> to_target_entries(const std::vector<ResolvedTarget>& resolved) {
    std::vector<TargetEntry> entries;
    for (const auto& target : resolved)
        entries.push_back(TargetEntry{target.addr, target.port, target.expires_unix_s});
    return entries;
}

// A proxied connection holds two descriptors (client and upstream) and an idle pool more: the
// usual soft limit of 1024 would refuse connections long before memory runs short. The hard
// limit is the operator's (systemd's LimitNOFILE=).
void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
        spdlog::warn("cannot raise the open files limit: {}", std::strerror(errno));
}

ApprovalSettings approval_settings(const ApprovalsConfig& config) {
    ApprovalSettings settings;
    settings.timeout = std::chrono::seconds(config.timeout_s);
    settings.keepalive_interval = std::chrono::seconds(config.keepalive_interval_s);
    settings.retry_window = std::chrono::seconds(config.retry_window_s);
    settings.max_held = config.max_held;
    settings.max_held_per_identity = config.max_held_per_identity;
    settings.approver_oidc_groups = config.web.approver_groups;
    settings.approver_saml_groups = config.web.saml.approver_groups;
    for (const auto& name : config.approver_users) {
        const passwd* user = ::getpwnam(name.c_str());
        if (!user)
            throw std::runtime_error("approvals.approvers.users: no user named '" + name + "'");
        settings.approver_uids.push_back(user->pw_uid);
    }
    for (const auto& name : config.approver_groups) {
        const group* found = ::getgrnam(name.c_str());
        if (!found)
            throw std::runtime_error("approvals.approvers.groups: no group named '" + name + "'");
        settings.approver_gids.push_back(found->gr_gid);
    }
    return settings;
}

Approver approver_of(const AdminPeer& peer) {
    Approver approver{peer.uid, peer.groups, ""};
    approver.gids.push_back(peer.gid);
    const passwd* user = ::getpwuid(peer.uid);
    approver.name = user ? user->pw_name : "uid " + std::to_string(peer.uid);
    return approver;
}

// The page's base URL, for links: as configured, or the address it listens on.
std::string approval_page_url(const ApprovalWebConfig& web) {
    if (!web.listen) return "";
    if (!web.url.empty()) return web.url;
    const bool v6 = web.listen->host.find(':') != std::string::npos;
    return "https://" + (v6 ? "[" + web.listen->host + "]" : web.listen->host) + ":" +
           std::to_string(web.listen->port) + "/";
}

// Each notice's outcome is an audit event of its hold; the URL itself never is (a secret).
std::unique_ptr<WebhookNotifier> start_notifier(const Config& config, AuditWriter& audit) {
    const ApprovalNotifyConfig& notify = config.approvals.notify;
    if (notify.webhook.empty()) return nullptr;
    WebhookOptions options;
    options.url = notify.webhook;
    options.ca_file = notify.ca_file;
    options.attempts = static_cast<int>(notify.attempts);
    options.initial_backoff = std::chrono::seconds(notify.initial_backoff_s);
    options.timeout = std::chrono::seconds(notify.timeout_s);
    options.page_url = approval_page_url(config.approvals.web);
    auto notifier = std::make_unique<WebhookNotifier>(
        std::move(options), [&audit](const NoticeOutcome& outcome) {
            AuditRecord event;
            event.kind = "approval";
            event.id = outcome.request_id;
            event.started = std::chrono::system_clock::now();
            event.action = outcome.delivered ? "notified" : "notify_failed";
            event.approval = {{"id", outcome.approval_id},
                              {"event", event.action},
                              {"attempts", outcome.attempts}};
            if (!outcome.error.empty()) (*event.approval)["error"] = outcome.error;
            audit.write_record(event);
            if (outcome.delivered)
                spdlog::info("approval {}: notice delivered (attempt {})", outcome.approval_id,
                             outcome.attempts);
            else
                spdlog::error("approval {}: notice not delivered after {} attempt(s): {}",
                              outcome.approval_id, outcome.attempts, outcome.error);
        });
    spdlog::info("approvals: notices of held requests go to {}", notifier->origin());
    return notifier;
}

void log_policy_outcome(const PolicyReloadOutcome& outcome, PolicyReloadCounts& counts) {
    ++(outcome.ok ? counts.applied : counts.refused);
    if (outcome.ok)
        spdlog::info("{}", outcome.message);
    else
        spdlog::error("{}", outcome.message);
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

    CertificateAuthority ca =
        CertificateAuthority::load_or_create(config.state_dir, intercepted_hosts(config));
    spdlog::info("CA certificate: {} (clients must trust it)", ca.ca_cert_path());
    UpstreamHosts upstreams(config);
    spdlog::info("api keys: {}", upstreams.reload());
    for (const auto& target : config.intercept)
        if (upstreams.find(target.host) == nullptr)
            spdlog::warn(
                "{} has no upstream entry (no key): its requests get 503 upstream_not_configured",
                target.host);
    AuditWriterOptions audit_options;
    audit_options.path = config.audit.path;
    audit_options.rotate_bytes = config.audit.rotate_bytes;
    audit_options.rotate_interval = std::chrono::seconds(config.audit.rotate_interval_s);
    audit_options.keep_files = config.audit.keep_files;
    audit_options.checkpoint_records = config.audit.checkpoint_records;
    audit_options.checkpoint_interval = std::chrono::seconds(config.audit.checkpoint_interval_s);
    audit_options.signer =
        std::make_shared<const AuditSigner>(AuditSigner::load_or_create(config.state_dir));
    spdlog::info("audit: checkpoints signed with key {} ({}/{})", audit_options.signer->key_id(),
                 config.state_dir, kAuditPublicKeyFile);
    std::unique_ptr<AuditShipper> shipper = make_audit_shipper(config);
    if (shipper) {
        audit_options.on_written = [&](std::string_view lines) { shipper->ship(lines); };
        audit_options.also_healthy = [&] { return shipper->healthy(); };
    }
    RequestMetrics request_metrics;
    if (config.metrics.enabled())
        audit_options.observer = [&](const AuditRecord& record) {
            request_metrics.observe(record);
        };
    AuditWriter audit(std::move(audit_options));
    if (shipper) shipper->start();
    if (const std::size_t incomplete = record_incomplete_requests(config.audit.path, audit))
        spdlog::warn(
            "audit: {} request(s) were forwarded before sluiced last stopped and never completed; "
            "each is recorded with reason sluiced_stopped",
            incomplete);
    SessionRecorderOptions recording_options;
    recording_options.dir = config.state_dir + "/recordings";
    if (!config.recording.key_file.empty())
        recording_options.key = load_recording_key(config.recording.key_file);
    recording_options.retention = {std::chrono::seconds(config.recording.max_age_s),
                                   config.recording.max_total_bytes};
    // Declared after the audit writer, so it stops (storing what is queued) before the audit does.
    SessionRecorder recorder(std::move(recording_options), audit);
    PolicyStore policies(config.policy);
    spdlog::info("{}", policies.load_initial());
    PolicyState policy_state;
    PolicyStateFile policy_state_file(config.state_dir);
    spdlog::info("{}", policy_state_file.restore(policy_state));
    // Shared rate limits and budgets (state_store.redis); this host's PolicyState stays the
    // store when none is configured, and the fallback for fail_mode open controls when Redis
    // cannot be reached.
    std::unique_ptr<RedisAccounting> shared_state;
    if (config.state_store.shared()) {
        shared_state = std::make_unique<RedisAccounting>(config.state_store, policy_state);
        shared_state->start();
        spdlog::info("state_store: rate limits and budgets shared in {} (prefix {}, wait {} ms)",
                     config.state_store.redis, config.state_store.prefix,
                     config.state_store.timeout_ms);
    }
    PolicyAccounting& accounting =
        shared_state ? static_cast<PolicyAccounting&>(*shared_state) : policy_state;
    RequestGate gate(policies, accounting);
    OidcAuthenticator oidc(config.oidc);
    const std::string host_secret = load_or_create_host_secret(config.state_dir + "/host-secret");
    if (oidc.enabled())
        spdlog::info("oidc: {} issuer(s); tokens presented as API keys are verified",
                     config.oidc.size());
    const auto save_policy_state = [&] {
        if (const std::string error = policy_state_file.save(policy_state); !error.empty())
            spdlog::error("{}", error);
    };

    ApprovalRegistry approvals(approval_settings(config.approvals));
    std::unique_ptr<WebhookNotifier> notifier = start_notifier(config, audit);
    if (notifier)
        approvals.set_hold_observer([&](const std::string& id, const HeldRequest& request) {
            notifier->notify(id, request);
        });

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
    loader_options.serve_netns = config.namespaces.serve;
    std::unique_ptr<RedirectLoader> loader = RedirectLoader::load(loader_options);

    ProxyContext proxy_context{
        config,
        [&](const boost::asio::ip::tcp::endpoint& client, uint64_t netns_cookie,
            RecentIdentities& recent) -> std::optional<ConnectionOrigin> {
            auto meta = loader->take_connection(netns_cookie, client.data(),
                                                static_cast<socklen_t>(client.size()));
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
        {},
        nullptr,
        nullptr,
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
        const IpAddress key =
            address.is_v4() ? v4_mapped(address.to_v4().to_bytes()) : address.to_v6().to_bytes();
        return resolver.host_for_address(key);
    };
    proxy_context.approvals = &approvals;
    proxy_context.recorder = &recorder;
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    ProxyServer proxy(proxy_context, threads);
    // Each proxy worker reaches Redis over a connection on its own loop: no thread hand-off.
    if (shared_state) shared_state->serve_on(proxy.worker_loops());
    // Containers: a listener in every other network namespace (agent/netns). Without it (no
    // CAP_SYS_ADMIN, a kernel without fentry) their target connections are refused, not held.
    std::unique_ptr<NetnsWatch> netns_watch;
    std::unique_ptr<NamespaceServer> namespaces;
    if (config.namespaces.serve) {
        try {
            netns_watch = std::make_unique<NetnsWatch>(config.pin_dir);
            NamespaceServerOptions options;
            options.port = config.listen.port;
            options.max_per_user = config.namespaces.max_per_user;
            namespaces = std::make_unique<NamespaceServer>(
                options, loader->netns_table(), loader->host_netns_cookie(),
                loader->netns_events_fd(), *netns_watch,
                [&proxy](NamespaceListeners listeners) {
                    proxy.adopt_namespace(listeners.netns_cookie, std::move(listeners.fds));
                },
                [&proxy](uint64_t cookie) { proxy.drop_namespace(cookie); });
            proxy_context.namespace_reaches = [server = namespaces.get()](
                                                  uint64_t cookie,
                                                  const boost::asio::ip::tcp::endpoint& to) {
                return server->reaches(cookie, to);
            };
        } catch (const std::exception& e) {
            spdlog::error(
                "namespaces: {}; processes in other network namespaces (containers) "
                "will be refused",
                e.what());
            namespaces.reset();
            netns_watch.reset();
            loader->set_serve_netns(false);
        }
    }
    proxy.start();
    if (namespaces) {
        try {
            namespaces->start();
            spdlog::info("namespaces: serving {} network namespace(s) besides the host's",
                         namespaces->stats().served);
        } catch (const std::exception& e) {
            spdlog::error(
                "namespaces: {}; processes in other network namespaces (containers) "
                "will be refused",
                e.what());
            loader->set_serve_netns(false);
        }
    }
    resolver.start();

    std::unique_ptr<MetricsServer> metrics;
    PolicyReloadCounts policy_reloads;
    if (config.metrics.enabled()) {
        metrics = std::make_unique<MetricsServer>(config.metrics.address, [&] {
            return render_metrics(MetricsSources{request_metrics, proxy_context.counters, audit,
                                                 approvals, policy_state, shared_state.get(),
                                                 shipper.get(), &policy_reloads});
        });
        metrics->start();
        spdlog::info("metrics: Prometheus text on http://{}:{}/metrics",
                     config.metrics.address.host, metrics->port());
    }

    AdminServer admin(config.admin);
    admin.on("status", [&](const nlohmann::json&) {
        nlohmann::json report =
            status_report(config, loader->status(), resolver.snapshot(), proxy_context.counters,
                          audit.stats(), upstreams.all_keys_loaded());
        report["policy"] = policy_status_json(policies, policy_state);
        if (shipper) report["audit_shipping"] = shipper->status_json();
        report["state_store"] =
            shared_state ? shared_state->status_json() : nlohmann::json{{"kind", "local"}};
        report["oidc"] = oidc_status_json(oidc.status());
        report["upstreams"] = upstreams.status_json();
        report["recording"] = recorder.status_json();
        report["namespaces"] =
            namespaces ? namespaces->status_json() : nlohmann::json{{"serving", false}};
        return report;
    });
    // SIGHUP and `sluicectl reload` do the same: keys, policy (a bad one keeps the old), audit
    // file.
    const auto reload = [&] {
        const std::string key_outcome = upstreams.reload();
        spdlog::info("api keys: {}", key_outcome);
        const PolicyReloadOutcome policy_outcome = policies.reload();
        log_policy_outcome(policy_outcome, policy_reloads);
        audit.reopen();
        return nlohmann::json{{"ok", policy_outcome.ok},
                              {"api_key", key_outcome},
                              {"policy", policy_outcome.message}};
    };
    admin.on("reload", [&](const nlohmann::json&) { return reload(); });
    // Each decision is audited here, where the approver is known; the held session audits the
    // hold, the timeout and the outcome on its request's record.
    const ApprovalDecided audit_decision = [&](const std::string& id,
                                               const ApprovalRegistry::DecideOutcome& outcome) {
        AuditRecord event;
        event.kind = "approval";
        event.id = outcome.request.request_id;
        event.started = std::chrono::system_clock::now();
        event.method = outcome.request.method;
        event.path = outcome.request.path;
        event.model = outcome.request.model;
        event.stream = outcome.request.stream;
        event.rule = outcome.request.rule;
        event.action = outcome.event;
        event.reason = outcome.decision.reason;
        event.approval = approval_event_json(id, outcome.event, outcome.request, outcome.decision);
        audit.write_record(event);
        spdlog::info("approval {}: {} by {} ({})", id, outcome.event, outcome.decision.approver,
                     outcome.decision.approver_via);
    };
    admin.on_open("approvals", [&](const nlohmann::json& request, const AdminPeer& peer) {
        return run_approval_command(approvals, request, approver_of(peer), audit_decision);
    });
    std::unique_ptr<ApprovalsWebServer> approvals_web;
    if (config.approvals.web.listen) {
        // Every sign-in to the page, accepted or refused, is an audit event of its own.
        const WebSignInObserver audit_sign_in = [&](const WebSignIn& sign_in) {
            AuditRecord event;
            event.kind = "approval_sign_in";
            event.id = new_audit_id();
            event.started = std::chrono::system_clock::now();
            event.action = sign_in.accepted ? "allow" : "deny";
            event.reason = sign_in.reason;
            event.approval = nlohmann::json{{"event", sign_in.accepted ? "signed_in" : "refused"},
                                            {"via", sign_in.via},
                                            {"user", sign_in.user},
                                            {"subject", sign_in.subject},
                                            {"idp", sign_in.idp},
                                            {"reason", sign_in.reason}};
            audit.write_record(event);
        };
        approvals_web = std::make_unique<ApprovalsWebServer>(
            config.approvals.web, approval_page_url(config.approvals.web), approvals,
            audit_decision, audit_sign_in);
        approvals_web->start();
        spdlog::info("approvals: web page on {}:{} ({})", config.approvals.web.listen->host,
                     config.approvals.web.listen->port, approval_page_url(config.approvals.web));
    }
    // Approvers who are neither root nor operators must reach the socket; it then answers them
    // the approvals commands alone (peer credentials decide, not the file mode).
    if (!config.approvals.approver_groups.empty() || !config.approvals.approver_users.empty())
        admin.open_to_all_users();
    admin.start();

    spdlog::info("ready: proxy on {}:{}, programs attached at {}, {} threads", config.listen.host,
                 config.listen.port, loader->cgroup_path(), threads);
    const ServiceManager service_manager;
    service_manager.notify_ready();

    constexpr int kPolicyStateSaveEveryTicks = 5;
    for (int tick_count = 1;; ++tick_count) {
        timespec tick{1, 0};
        const int signal = sigtimedwait(&signals, nullptr, &tick);
        if (tick_count % kPolicyStateSaveEveryTicks == 0) save_policy_state();
        if (shipper) audit_shipping_drops(*shipper, audit);
        // Pinged every tick while every proxy loop turns; one wedged loop (or a stopped process)
        // lets WatchdogSec= run out and systemd restarts sluiced. The tick (1 s) must stay under
        // half of WatchdogSec=.
        if (service_manager.watchdog_ping_interval() && proxy.workers_responsive())
            service_manager.ping_watchdog();
        if (signal == SIGHUP) {
            spdlog::info("SIGHUP: reloading");
            reload();
        } else if (signal == SIGINT || signal == SIGTERM) {
            spdlog::info(
                "stopping (the redirect stays in place: target connections fail closed "
                "until sluiced is back; `sluicectl unload` removes it)");
            break;
        } else {
            if (upstreams.reload_if_changed()) spdlog::info("an api key file changed: reloaded");
            if (auto outcome = policies.reload_if_changed())
                log_policy_outcome(*outcome, policy_reloads);
        }
    }
    service_manager.notify_stopping();
    if (metrics) metrics->stop();
    admin.stop();
    if (approvals_web) approvals_web->stop();
    resolver.stop();
    // Held requests are answered (503, nothing was sent) before the workers stop.
    approvals.shut_down();
    for (int i = 0; i < 40 && approvals.open_holds() > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (namespaces) namespaces->stop();
    proxy.stop();
    save_policy_state();
    recorder.flush();  // its audit lines go out before the audit's shutdown checkpoint
    audit.flush();
    return 0;
}

}  // namespace sluice
