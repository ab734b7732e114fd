// sluiced's configuration: one struct, parsed and validated in one place (config.cpp),
// then passed down by const reference. Keys and defaults are a contract (docs/architecture.md,
// Contracts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sluice {

// Thrown for anything wrong with the config; what() is the one line shown to the operator.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct HostPort {
    std::string host;
    uint16_t port = 0;
};

// The host intercepted, and given an upstream with the default key file, when the config says
// nothing else.
inline constexpr const char* kDefaultUpstreamHost = "api.openai.com";

struct InterceptTarget {
    std::string host = kDefaultUpstreamHost;
    uint16_t port = 443;
    std::vector<std::string> addresses;  // fixed IPs (v4/v6); empty = resolve and refresh by TTL
};

struct UpstreamConfig {
    std::string connect;  // optional host:port to dial instead of the original destination
    std::string ca_file;  // optional extra CA bundle to verify the upstream certificate
    std::string api_key_file =
        "/etc/sluice/openai.key";  // the default only for kDefaultUpstreamHost
};

// audit.ship: copies of the audit for collectors (docs/audit-shipping.md). Off without a URL.
struct AuditShipConfig {
    std::string syslog;       // tcp://host:port or tls://host:port: RFC 5424, octet-counted
    std::string otlp;         // http(s)://host:port[/path]: OTLP/HTTP logs, JSON (path /v1/logs)
    std::string tls_ca_file;  // extra CA bundle for tls:// and https:// collectors
    std::string tls_server_name;  // name checked in their certificates; default: the URL's host
    uint64_t spool_max_bytes = 1ull << 30;  // per collector; then failure_mode decides
    uint32_t batch_records = 500;

    bool enabled() const { return !syslog.empty() || !otlp.empty(); }
};

// The audit file, its rotation and its tamper evidence (docs/audit.md).
struct AuditConfig {
    std::string path = "/var/log/sluice/audit.jsonl";
    uint64_t rotate_bytes = 100ull * 1024 * 1024;  // 0 = never by size
    uint32_t rotate_interval_s = 86400;            // 0 = never by age
    uint32_t keep_files = 30;                      // rotated files kept; 0 = all
    uint32_t checkpoint_records = 1000;            // a signed checkpoint every N records...
    uint32_t checkpoint_interval_s = 60;           // ...or T seconds, whichever comes first
    AuditShipConfig ship;
};

// Recordings of requests a policy rule records (docs/recording.md), in state_dir/recordings.
struct RecordingConfig {
    uint32_t max_age_s = 30 * 86400;                   // recordings older are removed; 0 = kept
    uint64_t max_total_bytes = 1024ull * 1024 * 1024;  // the oldest are removed past it; 0 = no cap
    std::string key_file;  // AES-256-GCM key (0600) to encrypt recordings at rest; "" = none
};

enum class FailureMode { closed, open };

struct LimitsConfig {
    uint64_t max_header_bytes = 64 * 1024;
    uint64_t max_body_bytes = 512ull * 1024 * 1024;  // /v1/files and /v1/audio uploads
    uint32_t upstream_connect_timeout_ms = 10'000;
    uint32_t upstream_read_timeout_ms = 600'000;  // long generations stream for minutes
    uint32_t client_idle_timeout_ms = 120'000;
};

// Which claims of a verified ID token become the OIDC identity's subject, email and groups.
struct OidcClaimNames {
    std::string subject = "sub";
    std::string email = "email";
    std::string groups = "groups";
};

// One trusted OIDC issuer (docs/oidc.md). Keys come from jwks_file, or jwks_uri, or, when
// neither is set, from the jwks_uri in <issuer>/.well-known/openid-configuration.
struct OidcIssuerConfig {
    std::string issuer;                  // must equal the token's "iss" exactly
    std::vector<std::string> audiences;  // the token's "aud" must contain one of these
    std::string jwks_file;
    std::string jwks_uri;  // https:// only
    std::string ca_file;   // extra CA bundle for jwks_uri / discovery fetches
    uint32_t clock_skew_s = 60;
    uint32_t jwks_refresh_s = 3600;
    std::vector<std::string> algorithms{"RS256", "ES256", "EdDSA"};
    OidcClaimNames claims;
};

// approvals.notify: a Slack-compatible JSON POST for every newly held request.
struct ApprovalNotifyConfig {
    std::string webhook;  // https:// URL; "" = no notices. A secret (Slack's carry a token):
                          // never logged or audited, only its host
    std::string ca_file;  // extra CA bundle for the receiver
    uint32_t attempts = 5;
    uint32_t initial_backoff_s = 1;  // doubled after each failed attempt, at most 60 s
    uint32_t timeout_s = 10;         // per attempt
};

// approvals.web: the approvers' web page (docs/approvals.md, "Web page"), login with OIDC
// (authorization code + PKCE).
// approvals.web.saml: SAML 2.0 sign-in (SP-initiated, docs/approvals.md). Off without
// idp_metadata_file.
struct ApprovalSamlConfig {
    std::string idp_metadata_file;  // the IdP's metadata: its entity id, SSO URL, signing key
    std::string sp_entity_id;       // "" = <url>saml/metadata
    std::string sp_key_file;        // signs our AuthnRequests; 0600
    std::string sp_cert_file;
    std::string group_attribute = "groups";    // the assertion attribute carrying groups
    std::vector<std::string> approver_groups;  // a value of it naming one may decide

    bool enabled() const { return !idp_metadata_file.empty(); }
};

struct ApprovalWebConfig {
    std::optional<HostPort> listen;  // unset = no web page
    std::string url;  // the origin people open (https://host[:port]/); "" = https://<listen>/
    // The page's certificate (chain) and key (0600). Required: sluice's own CA is
    // name-constrained to the intercepted hosts, so it cannot vouch for this page.
    std::string cert_file;
    std::string key_file;
    std::string oidc_issuer;  // discovery at <issuer>/.well-known/openid-configuration
    std::string oidc_client_id;
    std::string oidc_client_secret_file;  // "" = a public client (PKCE alone); else 0600
    std::string oidc_ca_file;             // extra CA bundle for the issuer
    std::string oidc_groups_claim = "groups";
    std::vector<std::string> approver_groups;  // an ID token's groups naming one may decide
    ApprovalSamlConfig saml;
    uint32_t session_s = 8 * 3600;

    bool oidc_enabled() const { return !oidc_issuer.empty(); }
};

// approvals: how long a request is held for a person's decision and who may decide
// (docs/approvals.md). Durations in seconds here; the file takes "5m", "90s", "1h".
struct ApprovalsConfig {
    uint32_t timeout_s = 300;  // well under the OpenAI SDKs' own 10 minutes
    uint32_t keepalive_interval_s = 15;
    uint32_t retry_window_s = 3600;
    uint32_t max_held = 1000;
    uint32_t max_held_per_identity = 20;
    std::vector<std::string> approver_users;  // besides root
    std::vector<std::string>
        approver_groups;  // with approvers, the admin socket is 0666 (peer credentials decide)
    ApprovalNotifyConfig notify;
    ApprovalWebConfig web;
};

// state_store: where policy rate limits and budgets are accounted (docs/state-store.md).
// No redis URL: this host's memory (saved to state_dir), the default.
struct StateStoreConfig {
    std::string redis;            // "redis://host:port[/db]" or "rediss://…" (TLS); "" = local
    bool tls = false;             // from the scheme: rediss:// or tls.enabled
    HostPort endpoint;            // parsed from `redis`
    uint32_t database = 0;        // the URL's /db
    std::string tls_ca_file;      // extra CA bundle to verify the server (system store otherwise)
    std::string tls_server_name;  // name checked in its certificate; default: the URL's host
    std::string auth_user;        // ACL user; "" = the default user
    std::string auth_password_file;  // the password, alone in a file others cannot read
    std::string prefix = "sluice:";
    uint32_t timeout_ms = 5;  // longest a request waits for Redis before its fail_mode applies

    bool shared() const { return !redis.empty(); }
};

// metrics: the Prometheus endpoint (docs/metrics.md). No listen address (the default): off.
struct MetricsConfig {
    std::string listen;         // "host:port"; "" = no endpoint
    HostPort address;           // parsed from listen
    bool allow_remote = false;  // a non-loopback address must be asked for explicitly

    bool enabled() const { return !listen.empty(); }
};

// namespaces: processes in other network namespaces (containers) are served by a listener of
// sluiced's in each namespace (docs/architecture.md, "Containers"). Off: their target
// connections are refused (fail closed), as before.
struct NamespacesConfig {
    bool serve = true;
    // Namespaces served at once for one user other than root; beyond it that user's new
    // namespaces are refused. 0: no limit (agent/netns/namespace_server.h).
    size_t max_per_user = 128;
};

struct Config {
    std::string source_path;  // the file this was read from ("" = embedded defaults)
    HostPort listen{"127.0.0.1", 15443};
    std::string cgroup;  // "" = the cgroup2 root found in /proc/mounts
    std::string state_dir = "/var/lib/sluice";
    std::vector<InterceptTarget> intercept{InterceptTarget{}};
    // Per intercepted host; a host with no entry has no key, and its requests get a 503.
    std::map<std::string, UpstreamConfig> upstream{{kDefaultUpstreamHost, UpstreamConfig{}}};
    AuditConfig audit;
    RecordingConfig recording;
    std::string policy = "/etc/sluice/policy.yaml";
    std::string admin = "/run/sluice/admin.sock";
    std::string pin_dir = "/sys/fs/bpf/sluice";
    FailureMode failure_mode = FailureMode::closed;
    LimitsConfig limits;
    std::vector<OidcIssuerConfig> oidc;  // empty = OIDC off: kernel identity only
    // TLS to an intercepted address naming another server (SNI globs, lower case) is spliced
    // through untouched only when it matches one of these; otherwise it is refused. Empty by
    // default: fail closed (docs/bypass-coverage.md, "Foreign SNI").
    std::vector<std::string> passthrough_sni;
    ApprovalsConfig approvals;
    StateStoreConfig state_store;
    MetricsConfig metrics;
    NamespacesConfig namespaces;
};

// The configuration used when no file is given: every key at its documented default
// (packaging/sluiced.yaml).
Config default_config();
// Parses YAML text; `source` names the file in error messages. Throws ConfigError.
Config parse_config(const std::string& yaml_text, const std::string& source);
// Reads and parses a file. Throws ConfigError naming the file if it cannot be read.
Config load_config(const std::string& path);
// Splits "host:port" / "[v6]:port". Throws ConfigError naming `key`.
HostPort parse_host_port(const std::string& text, const std::string& key);

}  // namespace sluice
