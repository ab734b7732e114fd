#include "agent/config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace sluice {
namespace {

std::string error_of(const std::string& yaml, const std::string& source = "/etc/x.yaml") {
    try {
        parse_config(yaml, source);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "<no error>";
}

TEST(Config, DefaultsMatchDesign) {
    const Config c = default_config();
    EXPECT_EQ(c.listen.host, "127.0.0.1");
    EXPECT_EQ(c.listen.port, 15443);
    EXPECT_EQ(c.cgroup, "");
    EXPECT_EQ(c.state_dir, "/var/lib/sluice");
    ASSERT_EQ(c.intercept.size(), 1u);
    EXPECT_EQ(c.intercept[0].host, "api.openai.com");
    EXPECT_EQ(c.intercept[0].port, 443);
    EXPECT_TRUE(c.intercept[0].addresses.empty());
    ASSERT_EQ(c.upstream.count("api.openai.com"), 1u);
    EXPECT_EQ(c.upstream.at("api.openai.com").connect, "");
    EXPECT_EQ(c.upstream.at("api.openai.com").ca_file, "");
    EXPECT_EQ(c.upstream.at("api.openai.com").api_key_file, "/etc/sluice/openai.key");
    EXPECT_EQ(c.audit.path, "/var/log/sluice/audit.jsonl");
    EXPECT_EQ(c.policy, "/etc/sluice/policy.yaml");
    EXPECT_EQ(c.admin, "/run/sluice/admin.sock");
    EXPECT_EQ(c.pin_dir, "/sys/fs/bpf/sluice");
    EXPECT_EQ(c.failure_mode, FailureMode::closed);
}

TEST(Config, EmptyFileAndEmptyMappingGiveDefaults) {
    for (const char* text : {"", "\n", "# only a comment\n", "{}"}) {
        const Config c = parse_config(text, "x.yaml");
        EXPECT_EQ(c.listen.port, 15443) << text;
        EXPECT_EQ(c.upstream.size(), 1u) << text;
        EXPECT_EQ(c.source_path, "x.yaml");
    }
}

TEST(Config, NullValueMeansDefault) {
    const Config c = parse_config("listen:\nstate_dir:\nlimits:\n", "x.yaml");
    EXPECT_EQ(c.listen.port, 15443);
    EXPECT_EQ(c.state_dir, "/var/lib/sluice");
}

TEST(Config, FullValidFile) {
    const Config c = parse_config(R"(
listen: "[::1]:16443"
cgroup: /sys/fs/cgroup/test.slice
state_dir: /tmp/sluice-state
intercept:
  - host: API.OpenAI.com
    port: 443
    addresses: [127.10.0.1, "::1"]
  - host: example.internal
    port: 8443
upstream:
  api.openai.com:
    connect: 127.10.0.1:443
    ca_file: /tmp/ca.pem
    api_key_file: /tmp/key
audit:
  path: /tmp/audit.jsonl
  rotate_bytes: 1000000
  rotate_interval_s: 3600
  keep_files: 5
  checkpoint_records: 100
  checkpoint_interval_s: 10
policy: ""
admin: /tmp/admin.sock
pin_dir: /sys/fs/bpf/test
failure_mode: open
limits:
  max_header_bytes: 65536
  max_body_bytes: 1048576
  upstream_connect_timeout_ms: 500
  upstream_read_timeout_ms: 1000
  client_idle_timeout_ms: 2000
)",
                                  "full.yaml");
    EXPECT_EQ(c.listen.host, "::1");
    EXPECT_EQ(c.listen.port, 16443);
    EXPECT_EQ(c.cgroup, "/sys/fs/cgroup/test.slice");
    EXPECT_EQ(c.state_dir, "/tmp/sluice-state");
    ASSERT_EQ(c.intercept.size(), 2u);
    EXPECT_EQ(c.intercept[0].host, "api.openai.com");  // host names compare case-insensitively
    EXPECT_EQ(c.intercept[0].addresses, (std::vector<std::string>{"127.10.0.1", "::1"}));
    EXPECT_EQ(c.intercept[1].host, "example.internal");
    EXPECT_EQ(c.intercept[1].port, 8443);
    ASSERT_EQ(c.upstream.size(), 1u);
    EXPECT_EQ(c.upstream.at("api.openai.com").connect, "127.10.0.1:443");
    EXPECT_EQ(c.upstream.at("api.openai.com").ca_file, "/tmp/ca.pem");
    EXPECT_EQ(c.upstream.at("api.openai.com").api_key_file, "/tmp/key");
    // An intercept host without an upstream entry gets none: the default key file holds an
    // OpenAI key, which must never be sent to another host.
    EXPECT_EQ(c.upstream.count("example.internal"), 0u);
    EXPECT_EQ(c.audit.path, "/tmp/audit.jsonl");
    EXPECT_EQ(c.audit.rotate_bytes, 1000000u);
    EXPECT_EQ(c.audit.rotate_interval_s, 3600u);
    EXPECT_EQ(c.audit.keep_files, 5u);
    EXPECT_EQ(c.audit.checkpoint_records, 100u);
    EXPECT_EQ(c.audit.checkpoint_interval_s, 10u);
    EXPECT_EQ(c.policy, "");
    EXPECT_EQ(c.admin, "/tmp/admin.sock");
    EXPECT_EQ(c.pin_dir, "/sys/fs/bpf/test");
    EXPECT_EQ(c.failure_mode, FailureMode::open);
    EXPECT_EQ(c.limits.max_header_bytes, 65536u);
    EXPECT_EQ(c.limits.max_body_bytes, 1048576u);
    EXPECT_EQ(c.limits.upstream_connect_timeout_ms, 500u);
    EXPECT_EQ(c.limits.upstream_read_timeout_ms, 1000u);
    EXPECT_EQ(c.limits.client_idle_timeout_ms, 2000u);
}

TEST(Config, OidcIssuers) {
    const Config c = parse_config(R"(
oidc:
  - issuer: https://token.actions.githubusercontent.com
    audience: sluice
  - issuer: https://idp.example.com/realms/dev
    audience: [sluice, api]
    jwks_uri: https://idp.example.com/realms/dev/certs
    ca_file: /etc/sluice/idp-ca.pem
    clock_skew_s: 0
    jwks_refresh_s: 600
    algorithms: [ES256]
    claims:
      subject: preferred_username
      email: mail
      groups: roles
  - issuer: ci-tokens
    audience: sluice
    jwks_file: /etc/sluice/ci-jwks.json
)",
                                  "x.yaml");
    ASSERT_EQ(c.oidc.size(), 3u);
    const OidcIssuerConfig& discovered = c.oidc[0];
    EXPECT_EQ(discovered.issuer, "https://token.actions.githubusercontent.com");
    EXPECT_EQ(discovered.audiences, (std::vector<std::string>{"sluice"}));
    EXPECT_EQ(discovered.jwks_file, "");
    EXPECT_EQ(discovered.jwks_uri, "");
    EXPECT_EQ(discovered.clock_skew_s, 60u);
    EXPECT_EQ(discovered.jwks_refresh_s, 3600u);
    EXPECT_EQ(discovered.algorithms, (std::vector<std::string>{"RS256", "ES256", "EdDSA"}));
    EXPECT_EQ(discovered.claims.subject, "sub");
    EXPECT_EQ(discovered.claims.email, "email");
    EXPECT_EQ(discovered.claims.groups, "groups");
    const OidcIssuerConfig& full = c.oidc[1];
    EXPECT_EQ(full.audiences, (std::vector<std::string>{"sluice", "api"}));
    EXPECT_EQ(full.jwks_uri, "https://idp.example.com/realms/dev/certs");
    EXPECT_EQ(full.ca_file, "/etc/sluice/idp-ca.pem");
    EXPECT_EQ(full.clock_skew_s, 0u);
    EXPECT_EQ(full.jwks_refresh_s, 600u);
    EXPECT_EQ(full.algorithms, (std::vector<std::string>{"ES256"}));
    EXPECT_EQ(full.claims.subject, "preferred_username");
    EXPECT_EQ(full.claims.email, "mail");
    EXPECT_EQ(full.claims.groups, "roles");
    EXPECT_EQ(c.oidc[2].jwks_file, "/etc/sluice/ci-jwks.json");
}

TEST(Config, OidcIsOffByDefault) {
    EXPECT_TRUE(default_config().oidc.empty());
    EXPECT_TRUE(parse_config("oidc: []\n", "x.yaml").oidc.empty());
    EXPECT_TRUE(parse_config("oidc:\n", "x.yaml").oidc.empty());
}

TEST(Config, InterceptReplacingDefaultDropsDefaultUpstream) {
    const Config c = parse_config("intercept:\n  - host: other.example\n", "x.yaml");
    ASSERT_EQ(c.intercept.size(), 1u);
    EXPECT_EQ(c.intercept[0].port, 443);
    // The default key file is OpenAI's: another host gets a key only by naming one.
    EXPECT_TRUE(c.upstream.empty());
    const Config named = parse_config(
        "intercept:\n  - host: other.example\nupstream:\n  other.example: {api_key_file: "
        "/etc/sluice/other.key}\n",
        "x.yaml");
    EXPECT_EQ(named.upstream.at("other.example").api_key_file, "/etc/sluice/other.key");
}

// Names are compared in one form (lower case, no trailing dot): the config is put in it once.
TEST(Config, HostNamesAndPassthroughGlobsAreCanonical) {
    const Config c = parse_config(
        "intercept:\n  - host: API.OpenAI.com.\npassthrough_sni: [\"*.CDN.example.\", "
        "allowed.example]\n",
        "x.yaml");
    EXPECT_EQ(c.intercept[0].host, "api.openai.com");
    EXPECT_EQ(c.upstream.count("api.openai.com"), 1u);
    EXPECT_EQ(c.passthrough_sni, (std::vector<std::string>{"*.cdn.example", "allowed.example"}));
    EXPECT_TRUE(default_config().passthrough_sni.empty());
}

struct BadCase {
    const char* name;
    const char* yaml;
    const char* expected;  // the whole message
};

class ConfigRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigRejects, WithOneLineNamingFileAndKey) {
    const std::string msg = error_of(GetParam().yaml);
    EXPECT_EQ(msg, GetParam().expected);
    EXPECT_EQ(msg.find('\n'), std::string::npos);
    EXPECT_EQ(msg.rfind("config /etc/x.yaml: ", 0), 0u);
}

const BadCase kBadCases[] = {
    {"UnknownTopLevel", "listen: 127.0.0.1:1\nstate_dir: /x\nintercpt: []\n",
     "config /etc/x.yaml: unknown key 'intercpt' (line 3)"},
    {"UnknownInInterceptItem", "intercept:\n  - host: a.example\n    prot: 1\n",
     "config /etc/x.yaml: unknown key 'intercept[0].prot' (line 3)"},
    {"UnknownInUpstream", "upstream:\n  api.openai.com:\n    conect: a:1\n",
     "config /etc/x.yaml: unknown key 'upstream.api.openai.com.conect' (line 3)"},
    {"UnknownInAudit", "audit:\n  pth: /x\n",
     "config /etc/x.yaml: unknown key 'audit.pth' (line 2)"},
    {"ZeroCheckpointRecords", "audit:\n  checkpoint_records: 0\n",
     "config /etc/x.yaml: 'audit.checkpoint_records' must be an integer in [1, 100000000], got "
     "\"0\" (line 2)"},
    {"UnknownInLimits", "limits:\n  max_body: 1\n",
     "config /etc/x.yaml: unknown key 'limits.max_body' (line 2)"},
    {"DuplicateKey", "policy: /a\npolicy: /b\n",
     "config /etc/x.yaml: duplicate key 'policy' (line 2)"},
    {"ListenList", "listen: [1]\n",
     "config /etc/x.yaml: 'listen' must be host:port, got a list (line 1)"},
    {"ListenNoPort", "listen: abc\n",
     "config /etc/x.yaml: 'listen' must be host:port, got \"abc\" (line 1)"},
    {"ListenPortRange", "listen: 127.0.0.1:70000\n",
     "config /etc/x.yaml: 'listen' port must be in [1, 65535], got \"127.0.0.1:70000\" (line 1)"},
    {"ListenPortZero", "listen: 127.0.0.1:0\n",
     "config /etc/x.yaml: 'listen' port must be in [1, 65535], got \"127.0.0.1:0\" (line 1)"},
    {"ListenNotIp", "listen: localhost:15443\n",
     "config /etc/x.yaml: 'listen' host must be an IP address, got \"localhost\" (line 1)"},
    {"ListenBareV6", "listen: ::1:15443\n",
     "config /etc/x.yaml: 'listen' must be host:port, got \"::1:15443\" (line 1)"},
    {"FailureModeMaybe", "failure_mode: maybe\n",
     "config /etc/x.yaml: 'failure_mode' must be closed or open, got \"maybe\" (line 1)"},
    {"TopLevelList", "- a\n- b\n",
     "config /etc/x.yaml: top level must be a mapping of keys, got a list (line 1)"},
    {"InterceptNotList", "intercept: api.openai.com\n",
     "config /etc/x.yaml: 'intercept' must be a list of {host, port, addresses}, got "
     "\"api.openai.com\" (line 1)"},
    {"InterceptItemNotMap", "intercept:\n  - api.openai.com\n",
     "config /etc/x.yaml: 'intercept[0]' must be a mapping, got \"api.openai.com\" (line 2)"},
    {"InterceptPortRange", "intercept:\n  - port: 65536\n",
     "config /etc/x.yaml: 'intercept[0].port' must be an integer in [1, 65535], got \"65536\" "
     "(line "
     "2)"},
    {"InterceptPortNotNumber", "intercept:\n  - port: https\n",
     "config /etc/x.yaml: 'intercept[0].port' must be an integer in [1, 65535], got \"https\" "
     "(line "
     "2)"},
    {"InterceptPortNegative", "intercept:\n  - port: -1\n",
     "config /etc/x.yaml: 'intercept[0].port' must be an integer in [1, 65535], got \"-1\" (line "
     "2)"},
    {"InterceptHostBad", "intercept:\n  - host: \"api openai\"\n",
     "config /etc/x.yaml: 'intercept[0].host' must be a host name, got \"api openai\" (line 2)"},
    {"InterceptDuplicate", "intercept:\n  - host: a.example\n  - host: A.example\n",
     "config /etc/x.yaml: 'intercept[1]' repeats a.example:443 (line 3)"},
    {"AddressNotIp", "intercept:\n  - addresses: [1.2.3.4, api.openai.com]\n",
     "config /etc/x.yaml: 'intercept[0].addresses[1]' must be an IPv4 or IPv6 address, got "
     "\"api.openai.com\" (line 2)"},
    {"AddressesNotList", "intercept:\n  - addresses: 1.2.3.4\n",
     "config /etc/x.yaml: 'intercept[0].addresses' must be a list of IP addresses, got \"1.2.3.4\" "
     "(line 2)"},
    {"InterceptEmpty", "intercept: []\n",
     "config /etc/x.yaml: 'intercept' must name at least one host (line 1)"},
    {"PassthroughSniNotList", "passthrough_sni: a.example\n",
     "config /etc/x.yaml: 'passthrough_sni' must be a list of host name globs, got \"a.example\" "
     "(line 1)"},
    {"PassthroughSniBadGlob", "passthrough_sni: [\"[a\"]\n",
     "config /etc/x.yaml: 'passthrough_sni[0]': unterminated '[' in glob '[a' (line 1)"},
    {"UpstreamNotIntercepted", "upstream:\n  api.opnai.com: {}\n",
     "config /etc/x.yaml: 'upstream.api.opnai.com' does not match any intercept host (line 2)"},
    {"UpstreamConnectBad", "upstream:\n  api.openai.com:\n    connect: nohostport\n",
     "config /etc/x.yaml: 'upstream.api.openai.com.connect' must be host:port, got \"nohostport\" "
     "(line 3)"},
    {"UpstreamNotMap", "upstream: [api.openai.com]\n",
     "config /etc/x.yaml: 'upstream' must be a mapping of host name to settings, got a list (line "
     "1)"},
    {"StateDirMap", "state_dir: {a: 1}\n",
     "config /etc/x.yaml: 'state_dir' must be a string, got a mapping (line 1)"},
    {"StateDirEmpty", "state_dir: \"\"\n",
     "config /etc/x.yaml: 'state_dir' must not be empty (line 1)"},
    {"AuditNotMap", "audit: /x\n",
     "config /etc/x.yaml: 'audit' must be a mapping, got \"/x\" (line 1)"},
    {"LimitNotNumber", "limits:\n  max_body_bytes: lots\n",
     "config /etc/x.yaml: 'limits.max_body_bytes' must be an integer in [1, 9223372036854775807], "
     "got \"lots\" (line 2)"},
    {"LimitZeroTimeout", "limits:\n  upstream_read_timeout_ms: 0\n",
     "config /etc/x.yaml: 'limits.upstream_read_timeout_ms' must be an integer in [1, 4294967295], "
     "got \"0\" (line 2)"},
    {"HeaderLimitTooSmall", "limits:\n  max_header_bytes: 10\n",
     "config /etc/x.yaml: 'limits.max_header_bytes' must be an integer in [1024, 67108864], got "
     "\"10\" (line 2)"},
    {"OidcNotList", "oidc: {issuer: x}\n",
     "config /etc/x.yaml: 'oidc' must be a list of issuers, got a mapping (line 1)"},
    {"OidcItemNotMap", "oidc:\n  - https://idp.example\n",
     "config /etc/x.yaml: 'oidc[0]' must be a mapping, got \"https://idp.example\" (line 2)"},
    {"OidcUnknownKey", "oidc:\n  - issuer: https://i.example\n    audience: a\n    audiense: b\n",
     "config /etc/x.yaml: unknown key 'oidc[0].audiense' (line 4)"},
    {"OidcIssuerRequired", "oidc:\n  - audience: a\n",
     "config /etc/x.yaml: 'oidc[0].issuer' is required (line 2)"},
    {"OidcAudienceRequired", "oidc:\n  - issuer: https://i.example\n",
     "config /etc/x.yaml: 'oidc[0].audience' is required (line 2)"},
    {"OidcAudienceMap", "oidc:\n  - issuer: https://i.example\n    audience: {a: 1}\n",
     "config /etc/x.yaml: 'oidc[0].audience' must be a string or a list of strings, got a mapping "
     "(line 3)"},
    {"OidcAudienceEmptyList", "oidc:\n  - issuer: https://i.example\n    audience: []\n",
     "config /etc/x.yaml: 'oidc[0].audience' must be a string or a list of strings, got a list "
     "(line 3)"},
    {"OidcAudienceNested", "oidc:\n  - issuer: https://i.example\n    audience: [[a]]\n",
     "config /etc/x.yaml: 'oidc[0].audience' must be a string or a list of strings, got a list "
     "holding a list (line 3)"},
    {"OidcBothKeySources",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    jwks_file: /k\n"
     "    jwks_uri: https://i.example/k\n",
     "config /etc/x.yaml: 'oidc[0]' sets both jwks_file and jwks_uri; use one (line 2)"},
    {"OidcJwksUriNotHttps",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    jwks_uri: http://i.example/k\n",
     "config /etc/x.yaml: 'oidc[0].jwks_uri' must be an https:// URL, got \"http://i.example/k\" "
     "(line 4)"},
    {"OidcDiscoveryNeedsHttpsIssuer", "oidc:\n  - issuer: ci-tokens\n    audience: a\n",
     "config /etc/x.yaml: 'oidc[0].issuer' must be an https:// URL to discover its keys (or set "
     "jwks_file or jwks_uri), got \"ci-tokens\" (line 2)"},
    {"OidcCaFileWithJwksFile",
     "oidc:\n  - issuer: ci\n    audience: a\n    jwks_file: /k\n    ca_file: /ca.pem\n",
     "config /etc/x.yaml: 'oidc[0].ca_file' applies only to jwks_uri or discovery (line 2)"},
    {"OidcSkewTooLarge",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    clock_skew_s: 3600\n",
     "config /etc/x.yaml: 'oidc[0].clock_skew_s' must be an integer in [0, 600], got \"3600\" "
     "(line 4)"},
    {"OidcRefreshTooOften",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    jwks_refresh_s: 1\n",
     "config /etc/x.yaml: 'oidc[0].jwks_refresh_s' must be an integer in [10, 604800], got \"1\" "
     "(line 4)"},
    {"OidcHs256Refused",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    algorithms: [RS256, HS256]\n",
     "config /etc/x.yaml: 'oidc[0].algorithms[1]' must be RS256, ES256 or EdDSA, got \"HS256\" "
     "(line 4)"},
    {"OidcAlgNoneRefused",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    algorithms: [none]\n",
     "config /etc/x.yaml: 'oidc[0].algorithms[0]' must be RS256, ES256 or EdDSA, got \"none\" "
     "(line 4)"},
    {"OidcAlgorithmsEmpty",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    algorithms: []\n",
     "config /etc/x.yaml: 'oidc[0].algorithms' must be a non-empty list of RS256, ES256, EdDSA, "
     "got a list (line 4)"},
    {"OidcUnknownClaim",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    claims:\n      user: x\n",
     "config /etc/x.yaml: unknown key 'oidc[0].claims.user' (line 5)"},
    {"OidcClaimEmpty",
     "oidc:\n  - issuer: https://i.example\n    audience: a\n    claims: {email: \"\"}\n",
     "config /etc/x.yaml: 'oidc[0].claims.email' must not be empty (line 4)"},
    {"OidcDuplicateIssuer",
     "oidc:\n  - {issuer: https://i.example, audience: a}\n"
     "  - {issuer: https://i.example, audience: b}\n",
     "config /etc/x.yaml: 'oidc[1]' repeats issuer \"https://i.example\" (line 3)"},
    {"ValueWithNewlineStaysOneLine", "failure_mode: \"a\\nb\"\n",
     "config /etc/x.yaml: 'failure_mode' must be closed or open, got \"a\\x0ab\" (line 1)"},
};

INSTANTIATE_TEST_SUITE_P(Table, ConfigRejects, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Config, InvalidYamlIsOneLine) {
    const std::string msg = error_of("listen: [1, 2\nstate_dir: x\n");
    EXPECT_EQ(msg.rfind("config /etc/x.yaml: invalid YAML: ", 0), 0u) << msg;
    EXPECT_NE(msg.find("(line "), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(Config, LongValueIsCutInMessage) {
    const std::string msg = error_of("failure_mode: " + std::string(500, 'x') + "\n");
    EXPECT_LT(msg.size(), 200u);
    EXPECT_NE(msg.find("...\""), std::string::npos);
}

TEST(ParseHostPort, Forms) {
    HostPort hp = parse_host_port("127.0.0.1:15443", "k");
    EXPECT_EQ(hp.host, "127.0.0.1");
    EXPECT_EQ(hp.port, 15443);
    hp = parse_host_port("[fe80::1]:1", "k");
    EXPECT_EQ(hp.host, "fe80::1");
    EXPECT_EQ(hp.port, 1);
    hp = parse_host_port("api.openai.com:65535", "k");
    EXPECT_EQ(hp.host, "api.openai.com");
    EXPECT_EQ(hp.port, 65535);
    for (const char* bad : {"", ":1", "a:", "a:b", "[::1]", "[::1]1", "[zz]:1", "a b:1", "a:1x",
                            "::1:1", "a:-1", "[::1]:"}) {
        EXPECT_THROW(parse_host_port(bad, "k"), ConfigError) << bad;
    }
    try {
        parse_host_port("abc", "listen");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_STREQ(e.what(), "'listen' must be host:port, got \"abc\"");
    }
}

class ConfigFile : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/sluice-config-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        std::remove((dir_ + "/c.yaml").c_str());
        ::rmdir(dir_.c_str());
    }
    std::string dir_;
};

TEST_F(ConfigFile, LoadsFile) {
    const std::string path = dir_ + "/c.yaml";
    std::ofstream(path) << "failure_mode: open\n";
    const Config c = load_config(path);
    EXPECT_EQ(c.failure_mode, FailureMode::open);
    EXPECT_EQ(c.source_path, path);
}

TEST_F(ConfigFile, ErrorsNameTheFile) {
    const std::string path = dir_ + "/c.yaml";
    std::ofstream(path) << "bogus: 1\n";
    try {
        load_config(path);
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), "config " + path + ": unknown key 'bogus' (line 1)");
    }
}

TEST_F(ConfigFile, MissingFile) {
    const std::string path = dir_ + "/missing.yaml";
    try {
        load_config(path);
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "config " + path + ": cannot read file: No such file or directory");
    }
}

TEST_F(ConfigFile, DirectoryIsNotAFile) {
    try {
        load_config(dir_);
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "config " + dir_ + ": cannot read file: not a regular file");
    }
}

TEST_F(ConfigFile, UnreadableFile) {
    if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of mode";
    const std::string path = dir_ + "/c.yaml";
    std::ofstream(path) << "{}\n";
    ::chmod(path.c_str(), 0);
    try {
        load_config(path);
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(std::string(e.what()),
                  "config " + path + ": cannot read file: Permission denied");
    }
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The shipped config documents the defaults; it must parse and say exactly what the code does.
TEST(Config, PackagedConfigParsesToTheDefaults) {
    const Config shipped = load_config(std::string(SLUICE_SOURCE_DIR) + "/packaging/sluiced.yaml");
    const Config d = default_config();
    EXPECT_EQ(shipped.listen.host, d.listen.host);
    EXPECT_EQ(shipped.listen.port, d.listen.port);
    EXPECT_EQ(shipped.cgroup, d.cgroup);
    EXPECT_EQ(shipped.state_dir, d.state_dir);
    ASSERT_EQ(shipped.intercept.size(), d.intercept.size());
    EXPECT_EQ(shipped.intercept[0].host, d.intercept[0].host);
    EXPECT_EQ(shipped.intercept[0].port, d.intercept[0].port);
    EXPECT_EQ(shipped.intercept[0].addresses, d.intercept[0].addresses);
    ASSERT_EQ(shipped.upstream.size(), 1u);
    const UpstreamConfig& u = shipped.upstream.at("api.openai.com");
    EXPECT_EQ(u.connect, d.upstream.at("api.openai.com").connect);
    EXPECT_EQ(u.ca_file, d.upstream.at("api.openai.com").ca_file);
    EXPECT_EQ(u.api_key_file, d.upstream.at("api.openai.com").api_key_file);
    EXPECT_EQ(shipped.audit.path, d.audit.path);
    EXPECT_EQ(shipped.policy, d.policy);
    EXPECT_EQ(shipped.admin, d.admin);
    EXPECT_EQ(shipped.pin_dir, d.pin_dir);
    EXPECT_EQ(shipped.failure_mode, d.failure_mode);
    EXPECT_EQ(shipped.limits.max_header_bytes, d.limits.max_header_bytes);
    EXPECT_EQ(shipped.limits.max_body_bytes, d.limits.max_body_bytes);
    EXPECT_EQ(shipped.limits.upstream_connect_timeout_ms, d.limits.upstream_connect_timeout_ms);
    EXPECT_EQ(shipped.limits.upstream_read_timeout_ms, d.limits.upstream_read_timeout_ms);
    EXPECT_EQ(shipped.limits.client_idle_timeout_ms, d.limits.client_idle_timeout_ms);
    EXPECT_EQ(shipped.oidc.size(), d.oidc.size());
    EXPECT_EQ(shipped.passthrough_sni, d.passthrough_sni);
    EXPECT_EQ(shipped.approvals.timeout_s, d.approvals.timeout_s);
    EXPECT_EQ(shipped.approvals.keepalive_interval_s, d.approvals.keepalive_interval_s);
    EXPECT_EQ(shipped.approvals.retry_window_s, d.approvals.retry_window_s);
    EXPECT_EQ(shipped.approvals.max_held, d.approvals.max_held);
    EXPECT_EQ(shipped.approvals.max_held_per_identity, d.approvals.max_held_per_identity);
    EXPECT_EQ(shipped.approvals.approver_groups, d.approvals.approver_groups);
    EXPECT_EQ(shipped.namespaces.serve, d.namespaces.serve);
    EXPECT_EQ(shipped.namespaces.max_per_user, d.namespaces.max_per_user);
}

TEST(Config, NamespacesAreServedUnlessSwitchedOff) {
    EXPECT_TRUE(default_config().namespaces.serve);
    EXPECT_FALSE(parse_config("namespaces: {serve: false}\n", "t.yaml").namespaces.serve);
    EXPECT_TRUE(parse_config("namespaces:\n", "t.yaml").namespaces.serve);
    EXPECT_THROW(parse_config("namespaces: {serve: maybe}\n", "t.yaml"), ConfigError);
    EXPECT_THROW(parse_config("namespaces: {loopback: up}\n", "t.yaml"), ConfigError);
    EXPECT_THROW(parse_config("namespaces: [serve]\n", "t.yaml"), ConfigError);
}

TEST(Config, NamespacesPerUserAreLimitedByDefault) {
    EXPECT_EQ(default_config().namespaces.max_per_user, 128u);
    EXPECT_EQ(parse_config("namespaces: {max_per_user: 0}\n", "t.yaml").namespaces.max_per_user,
              0u);
    EXPECT_EQ(parse_config("namespaces: {max_per_user: 8}\n", "t.yaml").namespaces.max_per_user,
              8u);
    for (const char* bad : {"-1", "many", "2000000", "1.5"}) {
        try {
            parse_config(std::string("namespaces: {max_per_user: ") + bad + "}\n", "t.yaml");
            ADD_FAILURE() << "accepted max_per_user " << bad;
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("namespaces.max_per_user"), std::string::npos)
                << e.what();
        }
    }
}

TEST(Config, ApprovalsTakeDurationsAndApprovers) {
    const Config c = parse_config(
        "approvals:\n  timeout: 90s\n  retry_window: 2h\n"
        "  approvers: {users: alice, groups: [ops, sec]}\n",
        "t.yaml");
    EXPECT_EQ(c.approvals.timeout_s, 90u);
    EXPECT_EQ(c.approvals.retry_window_s, 7200u);
    EXPECT_EQ(c.approvals.approver_users, std::vector<std::string>{"alice"});
    EXPECT_EQ(c.approvals.approver_groups, (std::vector<std::string>{"ops", "sec"}));
    EXPECT_THROW(parse_config("approvals: {timeout: soon}\n", "t.yaml"), ConfigError);
    EXPECT_THROW(parse_config("approvals: {webhook: x}\n", "t.yaml"), ConfigError);
}

TEST(Config, ApprovalsNotifyTakesAnHttpsWebhookAndItsRetries) {
    const Config c = parse_config(
        "approvals:\n  notify:\n    webhook: https://hooks.test/services/T/B/secret\n"
        "    attempts: 3\n    initial_backoff: 2s\n",
        "t.yaml");
    EXPECT_EQ(c.approvals.notify.webhook, "https://hooks.test/services/T/B/secret");
    EXPECT_EQ(c.approvals.notify.attempts, 3u);
    EXPECT_EQ(c.approvals.notify.initial_backoff_s, 2u);
    EXPECT_TRUE(default_config().approvals.notify.webhook.empty()) << "off by default";
    for (const char* bad : {"approvals: {notify: {webhook: http://hooks.test/x}}\n",
                            "approvals: {notify: {webhook: https://h/x, attempts: 0}}\n",
                            "approvals: {notify: {url: https://h/x}}\n"})
        EXPECT_THROW(parse_config(bad, "t.yaml"), ConfigError) << bad;
}

TEST(Config, ApprovalsWebNeedsACertificateAnIssuerAndApproverGroups) {
    const std::string good =
        "approvals:\n  web:\n    listen: 127.0.0.1:8443\n    cert_file: /c.crt\n"
        "    key_file: /c.key\n    oidc:\n      issuer: https://idp.test\n"
        "      client_id: sluice\n      approver_groups: [leads]\n";
    const Config c = parse_config(good, "t.yaml");
    ASSERT_TRUE(c.approvals.web.listen);
    EXPECT_EQ(c.approvals.web.listen->port, 8443);
    EXPECT_EQ(c.approvals.web.oidc_issuer, "https://idp.test");
    EXPECT_EQ(c.approvals.web.approver_groups, std::vector<std::string>{"leads"});
    EXPECT_EQ(c.approvals.web.session_s, 8u * 3600);
    EXPECT_FALSE(default_config().approvals.web.listen) << "off by default";
    for (const char* drop : {"    cert_file: /c.crt\n", "      issuer: https://idp.test\n",
                             "      approver_groups: [leads]\n"}) {
        std::string bad = good;
        bad.erase(bad.find(drop), std::string(drop).size());
        EXPECT_THROW(parse_config(bad, "t.yaml"), ConfigError) << drop;
    }
}

TEST(Config, ApprovalsWebSignsInWithSamlAloneOrBesideOidc) {
    const std::string saml =
        "approvals:\n  web:\n    listen: 127.0.0.1:8443\n    cert_file: /c.crt\n"
        "    key_file: /c.key\n    saml:\n      idp_metadata_file: /idp.xml\n"
        "      sp_key_file: /sp.key\n      sp_cert_file: /sp.crt\n"
        "      approver_groups: [leads]\n";
    const Config c = parse_config(saml, "t.yaml");
    EXPECT_TRUE(c.approvals.web.saml.enabled());
    EXPECT_FALSE(c.approvals.web.oidc_enabled()) << "SAML alone needs no OIDC issuer";
    EXPECT_EQ(c.approvals.web.saml.idp_metadata_file, "/idp.xml");
    EXPECT_EQ(c.approvals.web.saml.group_attribute, "groups") << "the default attribute";
    EXPECT_EQ(c.approvals.web.saml.sp_entity_id, "") << "default: <url>saml/metadata";
    EXPECT_EQ(c.approvals.web.saml.approver_groups, std::vector<std::string>{"leads"});
    EXPECT_FALSE(default_config().approvals.web.saml.enabled()) << "off by default";

    const Config both = parse_config(
        saml +
            "      group_attribute: memberOf\n      sp_entity_id: urn:sluice:approvals\n"
            "    oidc: {issuer: https://idp.test, client_id: s, approver_groups: [x]}\n",
        "t.yaml");
    EXPECT_TRUE(both.approvals.web.oidc_enabled());
    EXPECT_EQ(both.approvals.web.saml.group_attribute, "memberOf");
    EXPECT_EQ(both.approvals.web.saml.sp_entity_id, "urn:sluice:approvals");

    for (const char* drop : {"      idp_metadata_file: /idp.xml\n", "      sp_key_file: /sp.key\n",
                             "      sp_cert_file: /sp.crt\n", "      approver_groups: [leads]\n"}) {
        std::string bad = saml;
        bad.erase(bad.find(drop), std::string(drop).size());
        EXPECT_THROW(parse_config(bad, "t.yaml"), ConfigError) << drop;
    }
    for (const char* bad : {"      metadata: /idp.xml\n", "      group_attribute: \"\"\n",
                            "      approver_groups: {a: b}\n"})
        EXPECT_THROW(parse_config(saml + bad, "t.yaml"), ConfigError) << bad;
    EXPECT_THROW(parse_config("approvals:\n  web:\n    listen: 127.0.0.1:8443\n    cert_file: "
                              "/c.crt\n    key_file: /c.key\n",
                              "t.yaml"),
                 ConfigError)
        << "no way to sign in";
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(Config, StateStoreIsLocalByDefault) {
    const Config c = parse_config("", "t.yaml");
    EXPECT_FALSE(c.state_store.shared());
    EXPECT_EQ(c.state_store.prefix, "sluice:");
    EXPECT_EQ(c.state_store.timeout_ms, 5u);
}

TEST(Config, StateStoreRedisUrlTlsAndAuth) {
    const Config c = parse_config(R"(
state_store:
  redis: rediss://redis.internal:6380/2
  tls: {ca_file: /etc/sluice/redis-ca.pem}
  auth: {user: sluice, password_file: /etc/sluice/redis.password}
  prefix: "fleet-a:"
  timeout_ms: 8
)",
                                  "t.yaml");
    const auto& s = c.state_store;
    EXPECT_TRUE(s.shared());
    EXPECT_TRUE(s.tls);
    EXPECT_EQ(s.endpoint.host, "redis.internal");
    EXPECT_EQ(s.endpoint.port, 6380);
    EXPECT_EQ(s.database, 2u);
    EXPECT_EQ(s.tls_server_name, "redis.internal");
    EXPECT_EQ(s.tls_ca_file, "/etc/sluice/redis-ca.pem");
    EXPECT_EQ(s.auth_user, "sluice");
    EXPECT_EQ(s.auth_password_file, "/etc/sluice/redis.password");
    EXPECT_EQ(s.prefix, "fleet-a:");
    EXPECT_EQ(s.timeout_ms, 8u);
}

TEST(Config, StateStoreRefusesBadUrlsWithOneLineNamingTheKey) {
    for (const char* bad :
         {"http://x:1", "redis://user:pw@x:1", "redis://x", "redis://x:1/99", "redis://x:1/a"}) {
        try {
            parse_config(std::string("state_store: {redis: \"") + bad + "\"}", "t.yaml");
            ADD_FAILURE() << bad << " accepted";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("state_store.redis"), std::string::npos)
                << e.what();
        }
    }
    EXPECT_THROW(parse_config("state_store: {timeout_ms: 0}", "t.yaml"), ConfigError);
    EXPECT_THROW(parse_config("state_store: {redis: \"redis://x:1\", shards: 3}", "t.yaml"),
                 ConfigError);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(Config, MetricsAreOffByDefaultAndLoopbackUnlessAskedOtherwise) {
    EXPECT_FALSE(parse_config("", "t.yaml").metrics.enabled());
    const Config c = parse_config("metrics: {listen: \"127.0.0.1:9464\"}", "t.yaml");
    EXPECT_TRUE(c.metrics.enabled());
    EXPECT_EQ(c.metrics.address.port, 9464);
    EXPECT_TRUE(parse_config("metrics: {listen: \"[::1]:9464\"}", "t.yaml").metrics.enabled());
    try {
        parse_config("metrics: {listen: \"0.0.0.0:9464\"}", "t.yaml");
        ADD_FAILURE() << "a non-loopback address was accepted";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("allow_remote"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(parse_config("metrics: {listen: \"0.0.0.0:9464\", allow_remote: true}", "t.yaml")
                    .metrics.allow_remote);
    EXPECT_THROW(parse_config("metrics: {listen: \"localhost:9464\"}", "t.yaml"), ConfigError);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(Config, AuditShippingIsOffByDefaultAndTakesSyslogAndOtlpUrls) {
    EXPECT_FALSE(parse_config("", "t.yaml").audit.ship.enabled());
    const Config c = parse_config(R"(
audit:
  ship:
    syslog: tls://logs.internal:6514
    otlp: https://otel.internal:4318
    tls: {ca_file: /etc/sluice/collector-ca.pem}
    spool_max_bytes: 1048576
    batch_records: 100
)",
                                  "t.yaml");
    EXPECT_TRUE(c.audit.ship.enabled());
    EXPECT_EQ(c.audit.ship.syslog, "tls://logs.internal:6514");
    EXPECT_EQ(c.audit.ship.otlp, "https://otel.internal:4318");
    EXPECT_EQ(c.audit.ship.tls_ca_file, "/etc/sluice/collector-ca.pem");
    EXPECT_EQ(c.audit.ship.spool_max_bytes, 1048576u);
    EXPECT_EQ(c.audit.ship.batch_records, 100u);
    for (const char* bad :
         {"audit: {ship: {syslog: \"udp://h:514\"}}", "audit: {ship: {otlp: \"grpc://h:4317\"}}",
          "audit: {ship: {spool_max_bytes: 10}}", "audit: {ship: {kafka: x}}"}) {
        try {
            parse_config(bad, "t.yaml");
            ADD_FAILURE() << bad << " accepted";
        } catch (const ConfigError& e) {
            EXPECT_NE(std::string(e.what()).find("audit.ship"), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace sluice
