// Parses and validates sluiced's YAML config. Every problem ends as one ConfigError line of
// the form `config <file>: <what is wrong with which key> (line N)`, because the operator sees
// exactly that line and an exit code, nothing else (docs/architecture.md, Contracts: "one line
// naming it").
#include "agent/config/config.h"
#include "agent/common/ip_address.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>

#include "agent/common/duration_text.h"
#include "policy/glob.h"

namespace sluice {
namespace {

// A config file is a few hundred bytes; anything far larger is a mistake (wrong path).
constexpr size_t kMaxConfigFileBytes = 1024 * 1024;
// Longest value echoed back in an error message before it is cut.
constexpr size_t kMaxEchoedValueChars = 80;

// Renders a user-supplied value for an error message: quoted, control characters escaped
// (the message must stay one line), long values cut.
std::string quote_value(std::string_view value) {
    std::string out = "\"";
    size_t shown = 0;
    for (char c : value) {
        if (shown++ == kMaxEchoedValueChars) {
            out += "...";
            break;
        }
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string describe_node(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Null:
            return "nothing";
        case YAML::NodeType::Scalar:
            return quote_value(node.Scalar());
        default:
            return "an undefined value";
    }
}

std::string line_suffix(const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return "";
    return " (line " + std::to_string(mark.line + 1) + ")";
}

bool is_loopback_literal(const std::string& text) {
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    return inet_pton(AF_INET6, text.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool is_ip_literal(const std::string& text) {
    unsigned char buf[16];
    return inet_pton(AF_INET, text.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

// RFC 1123 host name: dot-separated labels of letters, digits and '-', each 1..63 chars,
// not starting or ending with '-', 253 chars in all.
bool is_hostname(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    size_t label_len = 0;
    char prev = '.';
    for (char c : name) {
        if (c == '.') {
            if (label_len == 0 || prev == '-') return false;
            label_len = 0;
        } else {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-';
            if (!ok || (label_len == 0 && c == '-') || ++label_len > 63) return false;
        }
        prev = c;
    }
    return label_len > 0 && prev != '-';
}

std::string to_lower(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

bool is_https_url(std::string_view url);

// Walks the YAML tree. Each method names the key it checks so errors can say which one.
class ConfigParser {
public:
    explicit ConfigParser(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& what, const YAML::Node& at) const {
        throw ConfigError("config " + (source_.empty() ? std::string("<inline>") : source_) + ": " +
                          what + line_suffix(at));
    }

    // Iterates a mapping, rejecting keys outside `allowed` and duplicate keys.
    template <typename Fn>
    void for_each_key(const YAML::Node& map, const std::string& where,
                      std::initializer_list<std::string_view> allowed, Fn&& fn) const {
        std::set<std::string> seen;
        for (const auto& kv : map) {
            const YAML::Node& key_node = kv.first;
            if (!key_node.IsScalar()) fail("keys " + where + "must be plain names", key_node);
            const std::string& key = key_node.Scalar();
            bool known = false;
            for (std::string_view a : allowed) known = known || a == key;
            if (!known) fail("unknown key '" + where + key + "'", key_node);
            if (!seen.insert(key).second) fail("duplicate key '" + where + key + "'", key_node);
            fn(key, kv.second);
        }
    }

    void require_map(const YAML::Node& node, const std::string& key) const {
        if (!node.IsMap())
            fail("'" + key + "' must be a mapping, got " + describe_node(node), node);
    }

    std::string string_value(const YAML::Node& node, const std::string& key,
                             bool allow_empty) const {
        if (!node.IsScalar())
            fail("'" + key + "' must be a string, got " + describe_node(node), node);
        std::string value = node.Scalar();
        if (!allow_empty && value.empty()) fail("'" + key + "' must not be empty", node);
        if (value.find('\0') != std::string::npos) fail("'" + key + "' contains a NUL byte", node);
        return value;
    }

    uint64_t unsigned_value(const YAML::Node& node, const std::string& key, uint64_t min,
                            uint64_t max) const {
        const std::string range =
            "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
        if (!node.IsScalar())
            fail("'" + key + "' must be " + range + ", got " + describe_node(node), node);
        const std::string& text = node.Scalar();
        uint64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min ||
            value > max) {
            fail("'" + key + "' must be " + range + ", got " + quote_value(text), node);
        }
        return value;
    }

    HostPort host_port_value(const YAML::Node& node, const std::string& key) const {
        if (!node.IsScalar())
            fail("'" + key + "' must be host:port, got " + describe_node(node), node);
        try {
            return parse_host_port(node.Scalar(), key);
        } catch (const ConfigError& e) {
            fail(e.what(), node);
        }
    }

    Config parse(const std::string& text) const {
        YAML::Node root;
        try {
            root = YAML::Load(text);
        } catch (const YAML::Exception& e) {
            // yaml-cpp's what() repeats the position; build our own single line from its parts.
            std::string msg = e.msg;
            for (char& c : msg) {
                if (c == '\n' || c == '\r') c = ' ';
            }
            throw ConfigError("config " + source_name() + ": invalid YAML: " + msg + " (line " +
                              std::to_string(e.mark.line + 1) + ")");
        }
        Config config = default_config();
        config.source_path = source_;
        if (root.IsNull()) return config;  // empty file: all defaults
        if (!root.IsMap())
            fail("top level must be a mapping of keys, got " + describe_node(root), root);

        bool upstream_given = false;
        std::map<std::string, UpstreamConfig> upstream;
        std::map<std::string, YAML::Node> upstream_nodes;
        for_each_key(root, "",
                     {"listen", "cgroup", "state_dir", "intercept", "upstream", "audit", "policy",
                      "admin", "pin_dir", "failure_mode", "limits", "oidc", "passthrough_sni",
                      "approvals", "recording", "state_store", "metrics", "namespaces"},
                     [&](const std::string& key, const YAML::Node& value) {
                         // `key:` with nothing after it means "use the default".
                         if (value.IsNull()) return;
                         if (key == "listen") {
                             config.listen = host_port_value(value, key);
                             if (!is_ip_literal(config.listen.host)) {
                                 fail("'listen' host must be an IP address, got " +
                                          quote_value(config.listen.host),
                                      value);
                             }
                         } else if (key == "cgroup") {
                             config.cgroup = string_value(value, key, true);
                         } else if (key == "state_dir") {
                             config.state_dir = string_value(value, key, false);
                         } else if (key == "intercept") {
                             config.intercept = parse_intercept(value);
                         } else if (key == "upstream") {
                             upstream_given = true;
                             parse_upstream(value, upstream, upstream_nodes);
                         } else if (key == "audit") {
                             config.audit = parse_audit(value);
                         } else if (key == "policy") {
                             config.policy = string_value(value, key, true);
                         } else if (key == "admin") {
                             config.admin = string_value(value, key, false);
                         } else if (key == "pin_dir") {
                             config.pin_dir = string_value(value, key, false);
                         } else if (key == "failure_mode") {
                             config.failure_mode = parse_failure_mode(value);
                         } else if (key == "limits") {
                             config.limits = parse_limits(value);
                         } else if (key == "oidc") {
                             config.oidc = parse_oidc(value);
                         } else if (key == "passthrough_sni") {
                             config.passthrough_sni = parse_sni_globs(value, key);
                         } else if (key == "approvals") {
                             config.approvals = parse_approvals(value);
                         } else if (key == "recording") {
                             config.recording = parse_recording(value);
                         } else if (key == "state_store") {
                             config.state_store = parse_state_store(value);
                         } else if (key == "metrics") {
                             config.metrics = parse_metrics(value);
                         } else if (key == "namespaces") {
                             config.namespaces = parse_namespaces(value);
                         }
                     });

        // Every intercepted host gets an upstream entry; one given for a host that is not
        // intercepted is almost certainly a typo of one that is, so it is refused.
        if (upstream_given) {
            for (const auto& [host, node] : upstream_nodes) {
                bool intercepted = false;
                for (const auto& t : config.intercept) intercepted = intercepted || t.host == host;
                if (!intercepted) {
                    fail("'upstream." + host + "' does not match any intercept host", node);
                }
            }
        }
        // The default key file holds an OpenAI key, so only api.openai.com gets it by default:
        // another intercepted host has an upstream (and a key) only when the config names one.
        std::map<std::string, UpstreamConfig> filled;
        for (const auto& t : config.intercept) {
            if (auto it = upstream.find(t.host); it != upstream.end())
                filled[t.host] = it->second;
            else if (t.host == kDefaultUpstreamHost)
                filled[t.host] = UpstreamConfig{};
        }
        config.upstream = std::move(filled);
        return config;
    }

private:
    std::string source_name() const { return source_.empty() ? "<inline>" : source_; }

    std::vector<InterceptTarget> parse_intercept(const YAML::Node& node) const {
        if (!node.IsSequence()) {
            fail(
                "'intercept' must be a list of {host, port, addresses}, got " + describe_node(node),
                node);
        }
        std::vector<InterceptTarget> targets;
        std::set<std::pair<std::string, uint16_t>> seen;
        for (size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            const std::string where = "intercept[" + std::to_string(i) + "]";
            require_map(item, where);
            InterceptTarget target;
            for_each_key(item, where + ".", {"host", "port", "addresses"},
                         [&](const std::string& key, const YAML::Node& value) {
                             const std::string name = where + "." + key;
                             if (value.IsNull()) return;
                             if (key == "host") {
                                 target.host = to_lower(string_value(value, name, false));
                                 if (target.host.size() > 1 && target.host.back() == '.')
                                     target.host.pop_back();
                                 if (!is_hostname(target.host)) {
                                     fail("'" + name + "' must be a host name, got " +
                                              quote_value(value.Scalar()),
                                          value);
                                 }
                             } else if (key == "port") {
                                 target.port =
                                     static_cast<uint16_t>(unsigned_value(value, name, 1, 65535));
                             } else if (key == "addresses") {
                                 target.addresses = parse_addresses(value, name);
                             }
                         });
            if (!seen.insert({target.host, target.port}).second) {
                fail("'" + where + "' repeats " + target.host + ":" + std::to_string(target.port),
                     item);
            }
            targets.push_back(std::move(target));
        }
        if (targets.empty()) fail("'intercept' must name at least one host", node);
        return targets;
    }

    // Lower-cased (SNI is compared in its canonical form) and checked as globs.
    std::vector<std::string> parse_sni_globs(const YAML::Node& node, const std::string& key) const {
        if (!node.IsSequence())
            fail("'" + key + "' must be a list of host name globs, got " + describe_node(node),
                 node);
        std::vector<std::string> globs;
        for (size_t i = 0; i < node.size(); ++i) {
            const std::string name = key + "[" + std::to_string(i) + "]";
            std::string glob = to_lower(string_value(node[i], name, false));
            if (auto error = glob_error(glob)) fail("'" + name + "': " + *error, node[i]);
            if (!glob.empty() && glob.back() == '.') glob.pop_back();
            globs.push_back(std::move(glob));
        }
        return globs;
    }

    std::vector<std::string> parse_addresses(const YAML::Node& node, const std::string& key) const {
        if (!node.IsSequence()) {
            fail("'" + key + "' must be a list of IP addresses, got " + describe_node(node), node);
        }
        std::vector<std::string> addresses;
        for (size_t i = 0; i < node.size(); ++i) {
            const std::string name = key + "[" + std::to_string(i) + "]";
            const YAML::Node item = node[i];
            if (!item.IsScalar() || !is_ip_literal(item.Scalar())) {
                fail("'" + name + "' must be an IPv4 or IPv6 address, got " + describe_node(item),
                     item);
            }
            addresses.push_back(item.Scalar());
        }
        return addresses;
    }

    void parse_upstream(const YAML::Node& node, std::map<std::string, UpstreamConfig>& out,
                        std::map<std::string, YAML::Node>& nodes) const {
        if (!node.IsMap()) {
            fail(
                "'upstream' must be a mapping of host name to settings, got " + describe_node(node),
                node);
        }
        for (const auto& kv : node) {
            const YAML::Node& key_node = kv.first;
            if (!key_node.IsScalar() || !is_hostname(key_node.Scalar())) {
                fail("'upstream' keys must be host names, got " + describe_node(key_node),
                     key_node);
            }
            const std::string host = to_lower(key_node.Scalar());
            const std::string where = "upstream." + host;
            if (out.count(host) != 0) fail("duplicate key '" + where + "'", key_node);
            UpstreamConfig upstream;
            const YAML::Node& value = kv.second;
            if (!value.IsNull()) {
                require_map(value, where);
                for_each_key(value, where + ".", {"connect", "ca_file", "api_key_file"},
                             [&](const std::string& key, const YAML::Node& v) {
                                 const std::string name = where + "." + key;
                                 if (v.IsNull()) return;
                                 if (key == "connect") {
                                     upstream.connect = string_value(v, name, true);
                                     if (!upstream.connect.empty()) host_port_value(v, name);
                                 } else if (key == "ca_file") {
                                     upstream.ca_file = string_value(v, name, true);
                                 } else if (key == "api_key_file") {
                                     upstream.api_key_file = string_value(v, name, true);
                                 }
                             });
            }
            out.emplace(host, std::move(upstream));
            nodes.emplace(host, key_node);
        }
    }

    AuditConfig parse_audit(const YAML::Node& node) const {
        require_map(node, "audit");
        AuditConfig audit;
        for_each_key(node, "audit.",
                     {"path", "rotate_bytes", "rotate_interval_s", "keep_files",
                      "checkpoint_records", "checkpoint_interval_s", "ship"},
                     [&](const std::string& key, const YAML::Node& v) {
                         if (v.IsNull()) return;
                         const std::string name = "audit." + key;
                         if (key == "path") {
                             audit.path = string_value(v, name, false);
                         } else if (key == "rotate_bytes") {
                             audit.rotate_bytes = unsigned_value(v, name, 0, uint64_t{1} << 50);
                         } else if (key == "rotate_interval_s") {
                             audit.rotate_interval_s =
                                 static_cast<uint32_t>(unsigned_value(v, name, 0, 366 * 86400));
                         } else if (key == "keep_files") {
                             audit.keep_files =
                                 static_cast<uint32_t>(unsigned_value(v, name, 0, 100000));
                         } else if (key == "checkpoint_records") {
                             audit.checkpoint_records =
                                 static_cast<uint32_t>(unsigned_value(v, name, 1, 100000000));
                         } else if (key == "checkpoint_interval_s") {
                             audit.checkpoint_interval_s =
                                 static_cast<uint32_t>(unsigned_value(v, name, 1, 86400));
                         } else if (key == "ship") {
                             audit.ship = parse_audit_ship(v);
                         }
                     });
        return audit;
    }

    AuditShipConfig parse_audit_ship(const YAML::Node& node) const {
        require_map(node, "audit.ship");
        AuditShipConfig ship;
        for_each_key(
            node, "audit.ship.", {"syslog", "otlp", "tls", "spool_max_bytes", "batch_records"},
            [&](const std::string& key, const YAML::Node& v) {
                const std::string name = "audit.ship." + key;
                if (v.IsNull()) return;
                if (key == "syslog") {
                    ship.syslog = string_value(v, name, true);
                    if (!ship.syslog.empty() && !ship.syslog.starts_with("tcp://") &&
                        !ship.syslog.starts_with("tls://"))
                        fail("'" + name + "' must be tcp://host:port or tls://host:port, got " +
                                 quote_value(ship.syslog),
                             v);
                } else if (key == "otlp") {
                    ship.otlp = string_value(v, name, true);
                    if (!ship.otlp.empty() && !ship.otlp.starts_with("http://") &&
                        !ship.otlp.starts_with("https://"))
                        fail("'" + name + "' must be an http:// or https:// URL, got " +
                                 quote_value(ship.otlp),
                             v);
                } else if (key == "spool_max_bytes") {
                    ship.spool_max_bytes = unsigned_value(v, name, 4096, uint64_t{1} << 50);
                } else if (key == "batch_records") {
                    ship.batch_records = static_cast<uint32_t>(unsigned_value(v, name, 1, 100000));
                } else if (key == "tls") {
                    require_map(v, name);
                    for_each_key(v, name + ".", {"ca_file", "server_name"},
                                 [&](const std::string& sub, const YAML::Node& value) {
                                     if (value.IsNull()) return;
                                     (sub == "ca_file" ? ship.tls_ca_file : ship.tls_server_name) =
                                         string_value(value, name + "." + sub, true);
                                 });
                }
            });
        return ship;
    }

    NamespacesConfig parse_namespaces(const YAML::Node& node) const {
        require_map(node, "namespaces");
        NamespacesConfig namespaces;
        for_each_key(node, "namespaces.", {"serve", "max_per_user"},
                     [&](const std::string& key, const YAML::Node& v) {
                         if (v.IsNull()) return;
                         if (key == "serve") namespaces.serve = bool_value(v, "namespaces." + key);
                         if (key == "max_per_user")
                             namespaces.max_per_user = static_cast<size_t>(
                                 unsigned_value(v, "namespaces." + key, 0, 1u << 20));
                     });
        return namespaces;
    }

    FailureMode parse_failure_mode(const YAML::Node& node) const {
        if (node.IsScalar()) {
            if (node.Scalar() == "closed") return FailureMode::closed;
            if (node.Scalar() == "open") return FailureMode::open;
        }
        fail("'failure_mode' must be closed or open, got " + describe_node(node), node);
    }

    LimitsConfig parse_limits(const YAML::Node& node) const {
        require_map(node, "limits");
        LimitsConfig limits;
        constexpr uint64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
        for_each_key(node, "limits.",
                     {"max_header_bytes", "max_body_bytes", "upstream_connect_timeout_ms",
                      "upstream_read_timeout_ms", "client_idle_timeout_ms"},
                     [&](const std::string& key, const YAML::Node& v) {
                         const std::string name = "limits." + key;
                         if (v.IsNull()) return;
                         if (key == "max_header_bytes") {
                             // Below 1 KiB not even OpenAI's own response headers fit.
                             limits.max_header_bytes =
                                 unsigned_value(v, name, 1024, 64ull * 1024 * 1024);
                         } else if (key == "max_body_bytes") {
                             limits.max_body_bytes =
                                 unsigned_value(v, name, 1, std::numeric_limits<int64_t>::max());
                         } else if (key == "upstream_connect_timeout_ms") {
                             limits.upstream_connect_timeout_ms =
                                 static_cast<uint32_t>(unsigned_value(v, name, 1, kMaxU32));
                         } else if (key == "upstream_read_timeout_ms") {
                             limits.upstream_read_timeout_ms =
                                 static_cast<uint32_t>(unsigned_value(v, name, 1, kMaxU32));
                         } else if (key == "client_idle_timeout_ms") {
                             limits.client_idle_timeout_ms =
                                 static_cast<uint32_t>(unsigned_value(v, name, 1, kMaxU32));
                         }
                     });
        return limits;
    }

    uint32_t duration_value(const YAML::Node& node, const std::string& name) const {
        const auto duration = parse_duration(string_value(node, name, false));
        if (!duration) fail("'" + name + "' must be a duration such as 90s, 5m or 1h", node);
        return static_cast<uint32_t>(duration->count());
    }

    RecordingConfig parse_recording(const YAML::Node& node) const {
        require_map(node, "recording");
        RecordingConfig recording;
        for_each_key(node, "recording.", {"max_age_s", "max_total_bytes", "key_file"},
                     [&](const std::string& key, const YAML::Node& v) {
                         if (v.IsNull()) return;
                         const std::string name = "recording." + key;
                         if (key == "max_age_s")
                             recording.max_age_s =
                                 static_cast<uint32_t>(unsigned_value(v, name, 0, 3660 * 86400));
                         else if (key == "max_total_bytes")
                             recording.max_total_bytes =
                                 unsigned_value(v, name, 0, uint64_t{1} << 50);
                         else if (key == "key_file")
                             recording.key_file = string_value(v, name, true);
                     });
        return recording;
    }

    std::string https_url_value(const YAML::Node& node, const std::string& key) const {
        std::string url = string_value(node, key, false);
        if (url.rfind("https://", 0) != 0) fail("'" + key + "' must be an https:// URL", node);
        return url;
    }

    ApprovalNotifyConfig parse_approval_notify(const YAML::Node& node,
                                               const std::string& where) const {
        require_map(node, where);
        ApprovalNotifyConfig notify;
        for_each_key(
            node, where + ".", {"webhook", "ca_file", "attempts", "initial_backoff", "timeout"},
            [&](const std::string& key, const YAML::Node& v) {
                const std::string name = where + "." + key;
                if (v.IsNull()) return;
                if (key == "webhook")
                    notify.webhook = https_url_value(v, name);
                else if (key == "ca_file")
                    notify.ca_file = string_value(v, name, true);
                else if (key == "attempts")
                    notify.attempts = static_cast<uint32_t>(unsigned_value(v, name, 1, 20));
                else if (key == "initial_backoff")
                    notify.initial_backoff_s = duration_value(v, name);
                else if (key == "timeout")
                    notify.timeout_s = duration_value(v, name);
            });
        return notify;
    }

    ApprovalWebConfig parse_approval_web(const YAML::Node& node, const std::string& where) const {
        require_map(node, where);
        ApprovalWebConfig web;
        const std::initializer_list<std::string_view> keys = {
            "listen", "url", "cert_file", "key_file", "oidc", "saml", "session"};
        for_each_key(node, where + ".", keys, [&](const std::string& key, const YAML::Node& v) {
            const std::string name = where + "." + key;
            if (v.IsNull()) return;
            if (key == "listen")
                web.listen = host_port_value(v, name);
            else if (key == "url")
                web.url = https_url_value(v, name);
            else if (key == "cert_file")
                web.cert_file = string_value(v, name, true);
            else if (key == "key_file")
                web.key_file = string_value(v, name, true);
            else if (key == "session")
                web.session_s = duration_value(v, name);
            else if (key == "oidc")
                parse_approval_oidc(v, name, web);
            else if (key == "saml")
                web.saml = parse_approval_saml(v, name);
        });
        if (!web.listen) return web;
        // Not sluice's CA: it is name-constrained to the intercepted hosts
        // (certificate_authority.h).
        if (web.cert_file.empty() || web.key_file.empty())
            fail("'" + where + "' needs cert_file and key_file (a certificate for the page's host)",
                 node);
        const bool oidc_given =
            !web.oidc_issuer.empty() || !web.oidc_client_id.empty() || !web.approver_groups.empty();
        if (!oidc_given && !web.saml.enabled())
            fail("'" + where + "' needs a way to sign in: oidc or saml", node);
        if (oidc_given &&
            (web.oidc_issuer.empty() || web.oidc_client_id.empty() || web.approver_groups.empty()))
            fail("'" + where +
                     "' needs oidc.issuer, oidc.client_id and oidc.approver_groups (who may "
                     "sign in to decide)",
                 node);
        return web;
    }

    void parse_approval_oidc(const YAML::Node& node, const std::string& where,
                             ApprovalWebConfig& web) const {
        require_map(node, where);
        for_each_key(node, where + ".",
                     {"issuer", "client_id", "client_secret_file", "ca_file", "groups_claim",
                      "approver_groups"},
                     [&](const std::string& key, const YAML::Node& v) {
                         const std::string name = where + "." + key;
                         if (v.IsNull()) return;
                         if (key == "issuer")
                             web.oidc_issuer = https_url_value(v, name);
                         else if (key == "client_id")
                             web.oidc_client_id = string_value(v, name, false);
                         else if (key == "client_secret_file")
                             web.oidc_client_secret_file = string_value(v, name, true);
                         else if (key == "ca_file")
                             web.oidc_ca_file = string_value(v, name, true);
                         else if (key == "groups_claim")
                             web.oidc_groups_claim = string_value(v, name, false);
                         else if (key == "approver_groups")
                             web.approver_groups = string_or_list(v, name);
                     });
    }

    ApprovalSamlConfig parse_approval_saml(const YAML::Node& node, const std::string& where) const {
        require_map(node, where);
        ApprovalSamlConfig saml;
        for_each_key(node, where + ".",
                     {"idp_metadata_file", "sp_entity_id", "sp_key_file", "sp_cert_file",
                      "group_attribute", "approver_groups"},
                     [&](const std::string& key, const YAML::Node& v) {
                         const std::string name = where + "." + key;
                         if (v.IsNull()) return;
                         if (key == "idp_metadata_file")
                             saml.idp_metadata_file = string_value(v, name, true);
                         else if (key == "sp_entity_id")
                             saml.sp_entity_id = string_value(v, name, false);
                         else if (key == "sp_key_file")
                             saml.sp_key_file = string_value(v, name, true);
                         else if (key == "sp_cert_file")
                             saml.sp_cert_file = string_value(v, name, true);
                         else if (key == "group_attribute")
                             saml.group_attribute = string_value(v, name, false);
                         else if (key == "approver_groups")
                             saml.approver_groups = string_or_list(v, name);
                     });
        if (saml.idp_metadata_file.empty() || saml.sp_key_file.empty() ||
            saml.sp_cert_file.empty() || saml.approver_groups.empty() ||
            saml.group_attribute.empty())
            fail("'" + where +
                     "' needs idp_metadata_file, sp_key_file, sp_cert_file and approver_groups "
                     "(who may sign in to decide)",
                 node);
        return saml;
    }

    ApprovalsConfig parse_approvals(const YAML::Node& node) const {
        require_map(node, "approvals");
        ApprovalsConfig approvals;
        for_each_key(node, "approvals.",
                     {"timeout", "keepalive_interval", "retry_window", "max_held",
                      "max_held_per_identity", "approvers", "notify", "web"},
                     [&](const std::string& key, const YAML::Node& v) {
                         const std::string name = "approvals." + key;
                         if (v.IsNull()) return;
                         if (key == "timeout")
                             approvals.timeout_s = duration_value(v, name);
                         else if (key == "keepalive_interval")
                             approvals.keepalive_interval_s = duration_value(v, name);
                         else if (key == "retry_window")
                             approvals.retry_window_s = duration_value(v, name);
                         else if (key == "max_held")
                             approvals.max_held =
                                 static_cast<uint32_t>(unsigned_value(v, name, 1, 1'000'000));
                         else if (key == "max_held_per_identity")
                             approvals.max_held_per_identity =
                                 static_cast<uint32_t>(unsigned_value(v, name, 1, 1'000'000));
                         else if (key == "notify")
                             approvals.notify = parse_approval_notify(v, name);
                         else if (key == "web")
                             approvals.web = parse_approval_web(v, name);
                         else if (key == "approvers") {
                             require_map(v, name);
                             for_each_key(
                                 v, name + ".", {"users", "groups"},
                                 [&](const std::string& sub, const YAML::Node& list) {
                                     if (list.IsNull() || (list.IsSequence() && list.size() == 0))
                                         return;
                                     auto values = string_or_list(list, name + "." + sub);
                                     (sub == "users" ? approvals.approver_users
                                                     : approvals.approver_groups) =
                                         std::move(values);
                                 });
                         }
                     });
        return approvals;
    }

    StateStoreConfig parse_state_store(const YAML::Node& node) const {
        require_map(node, "state_store");
        StateStoreConfig store;
        YAML::Node url_node;
        for_each_key(
            node, "state_store.", {"redis", "tls", "auth", "prefix", "timeout_ms"},
            [&](const std::string& key, const YAML::Node& v) {
                const std::string name = "state_store." + key;
                if (v.IsNull()) return;
                if (key == "redis") {
                    store.redis = string_value(v, name, true);
                    url_node = v;
                } else if (key == "prefix") {
                    store.prefix = string_value(v, name, true);
                } else if (key == "timeout_ms") {
                    store.timeout_ms = static_cast<uint32_t>(unsigned_value(v, name, 1, 60'000));
                } else if (key == "tls") {
                    require_map(v, name);
                    for_each_key(v, name + ".", {"enabled", "ca_file", "server_name"},
                                 [&](const std::string& sub, const YAML::Node& value) {
                                     if (value.IsNull()) return;
                                     const std::string subname = name + "." + sub;
                                     if (sub == "enabled")
                                         store.tls = bool_value(value, subname);
                                     else if (sub == "ca_file")
                                         store.tls_ca_file = string_value(value, subname, true);
                                     else
                                         store.tls_server_name = string_value(value, subname, true);
                                 });
                } else if (key == "auth") {
                    require_map(v, name);
                    for_each_key(v, name + ".", {"user", "password_file"},
                                 [&](const std::string& sub, const YAML::Node& value) {
                                     if (value.IsNull()) return;
                                     const std::string subname = name + "." + sub;
                                     (sub == "user" ? store.auth_user : store.auth_password_file) =
                                         string_value(value, subname, true);
                                 });
                }
            });
        if (store.redis.empty()) return store;
        // redis://host:port[/db] or rediss://… for TLS; credentials never go in the URL (it is
        // logged), so a userinfo part is refused.
        std::string_view rest = store.redis;
        if (rest.starts_with("rediss://")) {
            store.tls = true;
            rest.remove_prefix(9);
        } else if (rest.starts_with("redis://")) {
            rest.remove_prefix(8);
        } else {
            fail("'state_store.redis' must be redis://host:port[/db] or rediss://…, got " +
                     quote_value(store.redis),
                 url_node);
        }
        if (rest.find('@') != std::string_view::npos)
            fail("'state_store.redis' must not carry credentials; use state_store.auth", url_node);
        std::string_view authority = rest.substr(0, rest.find('/'));
        if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
            const std::string_view db = rest.substr(slash + 1);
            uint32_t value = 0;
            auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), value);
            if (!db.empty() && (ec != std::errc{} || end != db.data() + db.size() || value > 15))
                fail("'state_store.redis' database must be 0..15, got " + quote_value(db),
                     url_node);
            store.database = value;
        }
        try {
            store.endpoint = parse_host_port(std::string(authority), "state_store.redis");
        } catch (const ConfigError& e) {
            fail(e.what(), url_node);
        }
        if (store.tls_server_name.empty()) store.tls_server_name = store.endpoint.host;
        return store;
    }

    MetricsConfig parse_metrics(const YAML::Node& node) const {
        require_map(node, "metrics");
        MetricsConfig metrics;
        YAML::Node listen_node;
        for_each_key(node, "metrics.", {"listen", "allow_remote"},
                     [&](const std::string& key, const YAML::Node& v) {
                         if (v.IsNull()) return;
                         if (key == "listen") {
                             metrics.listen = string_value(v, "metrics.listen", true);
                             listen_node = v;
                         } else {
                             metrics.allow_remote = bool_value(v, "metrics.allow_remote");
                         }
                     });
        if (!metrics.enabled()) return metrics;
        metrics.address = host_port_value(listen_node, "metrics.listen");
        if (!is_ip_literal(metrics.address.host))
            fail("'metrics.listen' host must be an IP address, got " +
                     quote_value(metrics.address.host),
                 listen_node);
        if (!is_loopback_literal(metrics.address.host) && !metrics.allow_remote)
            fail("'metrics.listen' " + quote_value(metrics.listen) +
                     " is not a loopback address; set metrics.allow_remote: true to serve it "
                     "beyond this host",
                 listen_node);
        return metrics;
    }

    bool bool_value(const YAML::Node& node, const std::string& key) const {
        if (node.IsScalar()) {
            if (node.Scalar() == "true") return true;
            if (node.Scalar() == "false") return false;
        }
        fail("'" + key + "' must be true or false, got " + describe_node(node), node);
    }

    std::vector<OidcIssuerConfig> parse_oidc(const YAML::Node& node) const {
        if (!node.IsSequence()) {
            fail("'oidc' must be a list of issuers, got " + describe_node(node), node);
        }
        std::vector<OidcIssuerConfig> issuers;
        std::set<std::string> seen;
        for (size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            const std::string where = "oidc[" + std::to_string(i) + "]";
            require_map(item, where);
            OidcIssuerConfig issuer = parse_oidc_issuer(item, where);
            if (!seen.insert(issuer.issuer).second) {
                fail("'" + where + "' repeats issuer " + quote_value(issuer.issuer), item);
            }
            issuers.push_back(std::move(issuer));
        }
        return issuers;
    }

    OidcIssuerConfig parse_oidc_issuer(const YAML::Node& item, const std::string& where) const {
        OidcIssuerConfig issuer;
        bool audience_given = false;
        bool ca_file_given = false;
        for_each_key(item, where + ".",
                     {"issuer", "audience", "jwks_file", "jwks_uri", "ca_file", "clock_skew_s",
                      "jwks_refresh_s", "algorithms", "claims"},
                     [&](const std::string& key, const YAML::Node& v) {
                         const std::string name = where + "." + key;
                         if (v.IsNull()) return;
                         if (key == "issuer") {
                             issuer.issuer = string_value(v, name, false);
                         } else if (key == "audience") {
                             issuer.audiences = string_or_list(v, name);
                             audience_given = true;
                         } else if (key == "jwks_file") {
                             issuer.jwks_file = string_value(v, name, false);
                         } else if (key == "jwks_uri") {
                             issuer.jwks_uri = string_value(v, name, false);
                             if (!is_https_url(issuer.jwks_uri)) {
                                 fail("'" + name + "' must be an https:// URL, got " +
                                          quote_value(issuer.jwks_uri),
                                      v);
                             }
                         } else if (key == "ca_file") {
                             issuer.ca_file = string_value(v, name, false);
                             ca_file_given = true;
                         } else if (key == "clock_skew_s") {
                             issuer.clock_skew_s =
                                 static_cast<uint32_t>(unsigned_value(v, name, 0, 600));
                         } else if (key == "jwks_refresh_s") {
                             issuer.jwks_refresh_s =
                                 static_cast<uint32_t>(unsigned_value(v, name, 10, 7 * 86400));
                         } else if (key == "algorithms") {
                             issuer.algorithms = parse_algorithms(v, name);
                         } else if (key == "claims") {
                             issuer.claims = parse_claim_names(v, name);
                         }
                     });
        if (issuer.issuer.empty()) fail("'" + where + ".issuer' is required", item);
        if (!audience_given) fail("'" + where + ".audience' is required", item);
        if (!issuer.jwks_file.empty() && !issuer.jwks_uri.empty()) {
            fail("'" + where + "' sets both jwks_file and jwks_uri; use one", item);
        }
        if (!issuer.jwks_file.empty() && ca_file_given) {
            fail("'" + where + ".ca_file' applies only to jwks_uri or discovery", item);
        }
        if (issuer.jwks_file.empty() && issuer.jwks_uri.empty() && !is_https_url(issuer.issuer)) {
            fail("'" + where + ".issuer' must be an https:// URL to discover its keys (or set " +
                     "jwks_file or jwks_uri), got " + quote_value(issuer.issuer),
                 item);
        }
        return issuer;
    }

    std::vector<std::string> string_or_list(const YAML::Node& node, const std::string& key) const {
        const std::string expected = "'" + key + "' must be a string or a list of strings, got ";
        if (node.IsScalar()) return {string_value(node, key, false)};
        if (!node.IsSequence() || node.size() == 0) fail(expected + describe_node(node), node);
        std::vector<std::string> values;
        for (size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            if (!item.IsScalar()) fail(expected + "a list holding " + describe_node(item), item);
            values.push_back(string_value(item, key + "[" + std::to_string(i) + "]", false));
        }
        return values;
    }

    std::vector<std::string> parse_algorithms(const YAML::Node& node,
                                              const std::string& key) const {
        if (!node.IsSequence() || node.size() == 0) {
            fail("'" + key + "' must be a non-empty list of RS256, ES256, EdDSA, got " +
                     describe_node(node),
                 node);
        }
        std::vector<std::string> algorithms;
        for (size_t i = 0; i < node.size(); ++i) {
            const YAML::Node item = node[i];
            // HS256 and none are refused here too: see JwsAlgorithm in agent/oidc/jwks.h.
            if (!item.IsScalar() || (item.Scalar() != "RS256" && item.Scalar() != "ES256" &&
                                     item.Scalar() != "EdDSA")) {
                fail("'" + key + "[" + std::to_string(i) +
                         "]' must be RS256, ES256 or EdDSA, got " + describe_node(item),
                     item);
            }
            algorithms.push_back(item.Scalar());
        }
        return algorithms;
    }

    OidcClaimNames parse_claim_names(const YAML::Node& node, const std::string& key) const {
        require_map(node, key);
        OidcClaimNames names;
        for_each_key(node, key + ".", {"subject", "email", "groups"},
                     [&](const std::string& claim, const YAML::Node& v) {
                         const std::string name = key + "." + claim;
                         if (v.IsNull()) return;
                         std::string value = string_value(v, name, false);
                         if (claim == "subject") {
                             names.subject = std::move(value);
                         } else if (claim == "email") {
                             names.email = std::move(value);
                         } else if (claim == "groups") {
                             names.groups = std::move(value);
                         }
                     });
        return names;
    }

    std::string source_;
};

// "https://" followed by a host and no whitespace; the fetcher parses it fully.
bool is_https_url(std::string_view url) {
    constexpr std::string_view kScheme = "https://";
    if (url.substr(0, kScheme.size()) != kScheme || url.size() == kScheme.size()) return false;
    if (url[kScheme.size()] == '/' || url[kScheme.size()] == ':') return false;
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
    }
    return true;
}

}  // namespace

Config default_config() { return Config{}; }

HostPort parse_host_port(const std::string& text, const std::string& key) {
    auto bad = [&]() -> ConfigError {
        return ConfigError("'" + key + "' must be host:port, got " + quote_value(text));
    };
    HostPort out;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        // [v6]:port
        const size_t close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            throw bad();
        }
        out.host = text.substr(1, close - 1);
        unsigned char buf[16];
        if (inet_pton(AF_INET6, out.host.c_str(), buf) != 1) throw bad();
        port_text = std::string_view(text).substr(close + 2);
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0) throw bad();
        out.host = text.substr(0, colon);
        // A bare IPv6 address has more colons; it must be bracketed to carry a port.
        if (out.host.find(':') != std::string::npos) throw bad();
        if (!is_ip_literal(out.host) && !is_hostname(out.host)) throw bad();
        port_text = std::string_view(text).substr(colon + 1);
    }
    const std::optional<uint16_t> port = parse_port(port_text);
    if (!port)
        throw ConfigError("'" + key + "' port must be in [1, 65535], got " + quote_value(text));
    out.port = *port;
    return out;
}

Config parse_config(const std::string& yaml_text, const std::string& source) {
    return ConfigParser(source).parse(yaml_text);
}

Config load_config(const std::string& path) {
    auto fail = [&](const std::string& why) -> ConfigError {
        return ConfigError("config " + path + ": " + why);
    };
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw fail(std::string("cannot read file: ") + std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};

    struct stat st {};
    if (::fstat(fd, &st) != 0) throw fail(std::string("cannot read file: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw fail("cannot read file: not a regular file");

    std::string text;
    char buf[16 * 1024];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw fail(std::string("cannot read file: ") + std::strerror(errno));
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > kMaxConfigFileBytes) {
            throw fail("file is larger than " + std::to_string(kMaxConfigFileBytes) + " bytes");
        }
    }
    return parse_config(text, path);
}

}  // namespace sluice
