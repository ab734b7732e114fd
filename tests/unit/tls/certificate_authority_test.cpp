#include "agent/tls/certificate_authority.h"

#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "tests/unit/tls/tls_test_support.h"

namespace sluice {
namespace {

using std::chrono::hours;
using Days = ca_limits::Days;
const std::vector<std::string> kHosts{"api.openai.com"};

std::string load_error(const std::string& dir, const std::vector<std::string>& hosts = kHosts) {
    try {
        (void)CertificateAuthority::load_or_create(dir, hosts);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

X509* leaf_of(const std::shared_ptr<SSL_CTX>& ctx) { return SSL_CTX_get0_certificate(ctx.get()); }

std::string serial_of(X509* cert) {
    BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    char* hex = BN_bn2hex(bn.get());
    std::string out(hex);
    OPENSSL_free(hex);
    return out;
}

// What someone holding a stolen ca.key could do: sign any leaf they like.
X509Ptr forge_leaf(X509* ca, EVP_PKEY* ca_key, const std::string& host) {
    X509Ptr leaf(X509_new());
    X509_set_version(leaf.get(), X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(leaf.get()), 4242);
    X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca));
    X509_NAME_add_entry_by_txt(X509_get_subject_name(leaf.get()), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
    X509_gmtime_adj(X509_getm_notBefore(leaf.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(leaf.get()), 86400);
    X509_set_pubkey(leaf.get(), ca_key);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, ca, leaf.get(), nullptr, nullptr, 0);
    X509ExtensionPtr san(
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, ("DNS:" + host).c_str()));
    X509_add_ext(leaf.get(), san.get(), -1);
    X509_sign(leaf.get(), ca_key, EVP_sha256());
    return leaf;
}

TEST(CertificateAuthority, FirstStartCreatesPrivateDirAndKey) {
    test::TempDir tmp;
    const std::string dir = tmp / "var/lib/sluice";
    auto ca = CertificateAuthority::load_or_create(dir, kHosts);
    EXPECT_EQ(test::file_mode(dir), 0700u);
    EXPECT_EQ(test::file_mode(dir + "/ca.key"), 0600u);
    EXPECT_EQ(test::file_mode(dir + "/ca.crt"), 0644u);
    EXPECT_EQ(ca.ca_cert_path(), dir + "/ca.crt");
    EXPECT_EQ(ca.ca_key_path(), dir + "/ca.key");
    EXPECT_EQ(ca.ca_cert_pem(), test::read_text_file(dir + "/ca.crt"));
    EXPECT_NE(ca.ca_cert_pem().find("BEGIN CERTIFICATE"), std::string::npos);
    // No temporary files left behind.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 2);
}

TEST(CertificateAuthority, KeyIsNeverWiderThan0600EvenWithPermissiveUmask) {
    test::TempDir tmp;
    mode_t old = ::umask(0);
    auto ca = CertificateAuthority::load_or_create(tmp / "state", kHosts);
    ::umask(old);
    EXPECT_EQ(test::file_mode(tmp / "state/ca.key"), 0600u);
    EXPECT_EQ(test::file_mode(tmp / "state"), 0700u);
}

TEST(CertificateAuthority, SecondStartLoadsTheSameCa) {
    test::TempDir tmp;
    std::string first = CertificateAuthority::load_or_create(tmp.path(), kHosts).ca_cert_pem();
    auto again = CertificateAuthority::load_or_create(tmp.path(), kHosts);
    EXPECT_EQ(again.ca_cert_pem(), first);
    EXPECT_EQ(test::read_text_file(tmp / "ca.crt"), first);
}

TEST(CertificateAuthority, RefusesGroupReadableKey) {
    test::TempDir tmp;
    (void)CertificateAuthority::load_or_create(tmp.path(), kHosts);
    ASSERT_EQ(::chmod((tmp / "ca.key").c_str(), 0640), 0);
    std::string err = load_error(tmp.path());
    EXPECT_NE(err.find("ca.key has mode 0640"), std::string::npos) << err;
    EXPECT_NE(err.find("chmod 600"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos);
    ASSERT_EQ(::chmod((tmp / "ca.key").c_str(), 0604), 0);
    EXPECT_NE(load_error(tmp.path()), "");
}

TEST(CertificateAuthority, RefusesUnparseableKey) {
    test::TempDir tmp;
    (void)CertificateAuthority::load_or_create(tmp.path(), kHosts);
    {
        std::ofstream out(tmp / "ca.key", std::ios::trunc);
        out << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
    }
    std::string err = load_error(tmp.path());
    EXPECT_NE(err.find("not a PEM private key"), std::string::npos) << err;
    EXPECT_NE(err.find("remove ca.crt and ca.key"), std::string::npos) << err;
}

TEST(CertificateAuthority, RefusesKeyThatDoesNotMatchCert) {
    test::TempDir a, b;
    (void)CertificateAuthority::load_or_create(a.path(), kHosts);
    (void)CertificateAuthority::load_or_create(b.path(), kHosts);
    std::filesystem::copy_file(b / "ca.key", a / "ca.key",
                               std::filesystem::copy_options::overwrite_existing);
    std::string err = load_error(a.path());
    EXPECT_NE(err.find("is not the key of"), std::string::npos) << err;
}

TEST(CertificateAuthority, RefusesWhenOnlyOneFileExists) {
    test::TempDir tmp;
    (void)CertificateAuthority::load_or_create(tmp.path(), kHosts);
    std::filesystem::remove(tmp / "ca.crt");
    std::string err = load_error(tmp.path());
    EXPECT_NE(err.find("but not"), std::string::npos) << err;
    // And it did not silently regenerate.
    EXPECT_FALSE(std::filesystem::exists(tmp / "ca.crt"));
}

TEST(CertificateAuthority, RefusesWhenConstraintsDoNotCoverANewHost) {
    test::TempDir tmp;
    (void)CertificateAuthority::load_or_create(tmp.path(), kHosts);
    std::string err = load_error(tmp.path(), {"api.openai.com", "api.anthropic.com"});
    EXPECT_NE(err.find("does not permit api.anthropic.com"), std::string::npos) << err;
    EXPECT_NE(err.find("remove ca.crt and ca.key"), std::string::npos) << err;
    // A subset of the original hosts is still covered.
    test::TempDir two;
    (void)CertificateAuthority::load_or_create(two.path(), {"api.openai.com", "files.openai.com"});
    EXPECT_EQ(load_error(two.path(), {"files.openai.com"}), "");
}

TEST(CertificateAuthority, RefusesExpiredCa) {
    test::TempDir tmp;
    test::ManualClock clock;
    (void)CertificateAuthority::load_or_create(tmp.path(), kHosts, clock.wall_clock());
    clock.advance(ca_limits::kCaValidity + hours(1));
    try {
        (void)CertificateAuthority::load_or_create(tmp.path(), kHosts, clock.wall_clock());
        FAIL() << "expired CA accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("expired"), std::string::npos) << e.what();
    }
}

TEST(CertificateAuthority, RejectsHostsThatAreNotDnsNames) {
    test::TempDir tmp;
    EXPECT_NE(load_error(tmp.path(), {"api.openai.com,DNS:evil.example"}), "");
    EXPECT_NE(load_error(tmp.path(), {}), "");
    EXPECT_NE(load_error(tmp.path(), {"*.openai.com"}), "");
    EXPECT_FALSE(std::filesystem::exists(tmp / "ca.key"));
}

TEST(CertificateAuthority, CaCarriesCriticalConstraints) {
    test::TempDir tmp;
    auto ca = CertificateAuthority::load_or_create(tmp.path(), kHosts);
    X509* cert = ca.ca_certificate();
    int crit = -1;
    NameConstraintsPtr nc(static_cast<NAME_CONSTRAINTS*>(
        X509_get_ext_d2i(cert, NID_name_constraints, &crit, nullptr)));
    ASSERT_TRUE(nc);
    EXPECT_EQ(crit, 1);
    ASSERT_EQ(sk_GENERAL_SUBTREE_num(nc->permittedSubtrees), 1);
    GENERAL_NAME* base = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, 0)->base;
    ASSERT_EQ(base->type, GEN_DNS);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(base->d.dNSName)),
                          static_cast<std::size_t>(ASN1_STRING_length(base->d.dNSName))),
              "api.openai.com");

    BasicConstraintsPtr bc(static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(cert, NID_basic_constraints, &crit, nullptr)));
    ASSERT_TRUE(bc);
    EXPECT_EQ(crit, 1);
    EXPECT_TRUE(bc->ca);
    EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 0);
    EXPECT_EQ(X509_get_key_usage(cert), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    EXPECT_NE(X509_get0_subject_key_id(cert), nullptr);
    EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(cert)), EVP_PKEY_EC);
    auto lifetime = test::to_time_point(X509_get0_notAfter(cert)) -
                    test::to_time_point(X509_get0_notBefore(cert));
    EXPECT_LE(lifetime, ca_limits::kCaValidity + ca_limits::kCaBackdate);
}

TEST(CertificateAuthority, StolenKeyCannotImpersonateOtherHosts) {
    test::TempDir tmp;
    auto ca = CertificateAuthority::load_or_create(tmp.path(), kHosts);
    const auto now = std::chrono::system_clock::now();

    auto ctx = ca.server_context_for("api.openai.com");
    ASSERT_TRUE(ctx);
    EXPECT_EQ(test::verify_leaf(leaf_of(ctx), ca.ca_certificate(), now), X509_V_OK);

    EvpPkeyPtr stolen = test::load_private_key(ca.ca_key_path());
    ASSERT_TRUE(stolen);
    for (const char* other :
         {"evil.example", "openai.com", "api.openai.com.evil.example", "www.google.com"}) {
        X509Ptr forged = forge_leaf(ca.ca_certificate(), stolen.get(), other);
        EXPECT_EQ(test::verify_leaf(forged.get(), ca.ca_certificate(), now),
                  X509_V_ERR_PERMITTED_VIOLATION)
            << other;
    }
    // The forging helper itself is sound: the permitted name does verify.
    X509Ptr allowed = forge_leaf(ca.ca_certificate(), stolen.get(), "api.openai.com");
    EXPECT_EQ(test::verify_leaf(allowed.get(), ca.ca_certificate(), now), X509_V_OK);
}

TEST(CertificateAuthority, LeafIsShortLivedAndNamesTheHost) {
    test::TempDir tmp;
    test::ManualClock clock;
    auto ca = CertificateAuthority::load_or_create(tmp.path(), kHosts, clock.wall_clock());
    X509* leaf = leaf_of(ca.server_context_for("api.openai.com"));
    ASSERT_NE(leaf, nullptr);
    auto not_before = test::to_time_point(X509_get0_notBefore(leaf));
    auto not_after = test::to_time_point(X509_get0_notAfter(leaf));
    EXPECT_LE(not_after - not_before, Days(90));
    EXPECT_LE(not_before, clock.now());
    EXPECT_GT(not_after, clock.now() + Days(20));
    EXPECT_EQ(
        X509_check_host(leaf, "api.openai.com", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr),
        1);
    EXPECT_EQ(X509_check_ca(leaf), 0);
    EXPECT_EQ(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER,
              static_cast<uint32_t>(XKU_SSL_SERVER));
    EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(leaf)), EVP_PKEY_EC);
    // 128-bit random serial: 16 octets, positive.
    EXPECT_EQ(ASN1_STRING_length(X509_get0_serialNumber(leaf)), 16);
    EXPECT_EQ(test::verify_leaf(leaf, ca.ca_certificate(), clock.now()), X509_V_OK);
}

TEST(CertificateAuthority, LeafIsCachedUntilRenewalPointThenRenewed) {
    test::TempDir tmp;
    test::ManualClock clock;
    auto ca = CertificateAuthority::load_or_create(tmp.path(), kHosts, clock.wall_clock());
    auto first = ca.server_context_for("api.openai.com");
    ASSERT_TRUE(first);
    const auto not_before = test::to_time_point(X509_get0_notBefore(leaf_of(first)));
    const auto not_after = test::to_time_point(X509_get0_notAfter(leaf_of(first)));
    const auto renew_at = not_before + (not_after - not_before) * 2 / 3;

    clock.set(renew_at - std::chrono::seconds(1));
    EXPECT_EQ(ca.server_context_for("api.openai.com"), first);
    EXPECT_EQ(ca.server_context_for("API.OPENAI.COM."), first);

    clock.set(renew_at);
    auto renewed = ca.server_context_for("api.openai.com");
    ASSERT_TRUE(renewed);
    EXPECT_NE(renewed, first);
    EXPECT_NE(serial_of(leaf_of(renewed)), serial_of(leaf_of(first)));
    EXPECT_GT(test::to_time_point(X509_get0_notAfter(leaf_of(renewed))), not_after);
    // Well before the old leaf would have expired.
    EXPECT_GE(not_after - clock.now(), Days(9));
    EXPECT_EQ(ca.server_context_for("api.openai.com"), renewed);
    EXPECT_EQ(ca.cached_leaf_count(), 1u);
}

TEST(CertificateAuthority, ClockSteppingBackBeforeNotBeforeReissues) {
    test::TempDir tmp;
    test::ManualClock clock;
    auto ca = CertificateAuthority::load_or_create(tmp.path(), kHosts, clock.wall_clock());
    auto first = ca.server_context_for("api.openai.com");
    clock.advance(-hours(2));
    auto second = ca.server_context_for("api.openai.com");
    ASSERT_TRUE(second);
    EXPECT_NE(second, first);
    EXPECT_EQ(test::verify_leaf(leaf_of(second), ca.ca_certificate(), clock.now()), X509_V_OK);
}

TEST(CertificateAuthority, LeafNeverOutlivesTheCa) {
    test::TempDir tmp;
    test::ManualClock clock;
    auto created = CertificateAuthority::load_or_create(tmp.path(), kHosts, clock.wall_clock());
    const auto ca_not_after = test::to_time_point(X509_get0_notAfter(created.ca_certificate()));
    clock.set(ca_not_after - Days(3));
    auto ca = CertificateAuthority::load_or_create(tmp.path(), kHosts, clock.wall_clock());
    auto ctx = ca.server_context_for("api.openai.com");
    ASSERT_TRUE(ctx);
    EXPECT_EQ(test::to_time_point(X509_get0_notAfter(leaf_of(ctx))), ca_not_after);
    // Once the CA has expired there is nothing valid to serve.
    clock.set(ca_not_after + hours(1));
    EXPECT_EQ(ca.server_context_for("api.openai.com"), nullptr);
}

TEST(CertificateAuthority, OnlyInterceptedHostsGetAContext) {
    test::TempDir tmp;
    auto ca =
        CertificateAuthority::load_or_create(tmp.path(), {"api.openai.com", "Files.OpenAI.com."});
    EXPECT_EQ(ca.server_context_for("example.com"), nullptr);
    EXPECT_EQ(ca.server_context_for("openai.com"), nullptr);
    EXPECT_EQ(ca.server_context_for("x.api.openai.com"), nullptr);
    EXPECT_EQ(ca.server_context_for(""), nullptr);
    EXPECT_EQ(ca.server_context_for(std::string_view("api.openai.com\0", 15)), nullptr);
    EXPECT_TRUE(ca.intercepts("files.openai.com"));
    auto files = ca.server_context_for("files.openai.com");
    ASSERT_TRUE(files);
    EXPECT_NE(files, ca.server_context_for("api.openai.com"));
    EXPECT_EQ(ca.cached_leaf_count(), 2u);
}

TEST(CertificateAuthority, ConcurrentCallersShareOneLeaf) {
    test::TempDir tmp;
    auto ca = CertificateAuthority::load_or_create(tmp.path(), kHosts);
    std::vector<std::shared_ptr<SSL_CTX>> got(8);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < got.size(); ++i) {
        threads.emplace_back([&, i] { got[i] = ca.server_context_for("api.openai.com"); });
    }
    for (auto& t : threads) t.join();
    for (const auto& ctx : got) EXPECT_EQ(ctx, got[0]);
    EXPECT_TRUE(got[0]);
}

TEST(NormalizeDnsName, LowercasesAndRejectsNonNames) {
    EXPECT_EQ(normalize_dns_name("API.OpenAI.com."), "api.openai.com");
    EXPECT_EQ(normalize_dns_name("a..b"), "");
    EXPECT_EQ(normalize_dns_name(".a"), "");
    EXPECT_EQ(normalize_dns_name("a b"), "");
    EXPECT_EQ(normalize_dns_name("a,b"), "");
    EXPECT_EQ(normalize_dns_name(std::string(64, 'a') + ".com"), "");
    EXPECT_EQ(normalize_dns_name(std::string(63, 'a') + ".com"), std::string(63, 'a') + ".com");
}

}  // namespace
}  // namespace sluice
