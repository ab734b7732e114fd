// The local CA that lets sluice terminate clients' TLS for the intercepted hosts.
//
// The CA is name-constrained (critical, permitted DNS subtrees = the intercepted hosts), so its
// key, if stolen from state_dir, cannot mint a certificate any client accepts for another name.
// Leaves are short-lived (kLeafLifetime, ≤ 90 days including backdating), cached per host and
// reissued once less than a third of their lifetime is left; mitmproxy's cache never checks
// expiry and serves expired leaves to long-running sessions.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/tls/openssl_handles.h"

namespace sluice {

using WallClock = std::function<std::chrono::system_clock::time_point()>;

inline std::chrono::system_clock::time_point system_wall_clock() {
    return std::chrono::system_clock::now();
}

namespace ca_limits {
using Days = std::chrono::duration<int64_t, std::ratio<86400>>;
inline constexpr Days kCaValidity{5 * 365};
// notBefore slack for clients whose clocks run behind ours.
inline constexpr std::chrono::hours kCaBackdate{24};
// Whole leaf span, backdating included (CA/B and browsers count it: mitmproxy #8201).
inline constexpr Days kLeafLifetime{30};
inline constexpr std::chrono::hours kLeafBackdate{1};
// Reissue when less than 1/kLeafRenewDivisor of the leaf's lifetime is left.
inline constexpr int kLeafRenewDivisor = 3;
}  // namespace ca_limits

class CertificateAuthority {
public:
    // Loads state_dir/ca.crt and ca.key, or generates them when neither exists (state_dir is
    // created 0700 if missing; ca.key is created 0600 with O_EXCL, ca.crt 0644).
    // Throws std::runtime_error with one line naming the file, the problem and the remedy when:
    // only one of the two files exists; the key is accessible by group/other, unparseable, or
    // not the cert's key; the cert is not a CA, has expired, or its name constraints do not
    // cover every intercepted host. It never regenerates over an existing CA: that changes what
    // clients must trust, so it is the operator's call (remove both files).
    // intercepted_hosts: DNS names (case and one trailing dot ignored), at least one.
    static CertificateAuthority load_or_create(const std::string& state_dir,
                                               const std::vector<std::string>& intercepted_hosts,
                                               WallClock clock = system_wall_clock);

    CertificateAuthority(CertificateAuthority&&) noexcept;
    CertificateAuthority& operator=(CertificateAuthority&&) noexcept;
    ~CertificateAuthority();

    // The TLS server context to terminate a client's connection for `sni` (lowercased, one
    // trailing dot ignored): leaf for that host + CA chain, TLS 1.2/1.3, ALPN http/1.1 only.
    // Cached per host; a renewed context replaces the cached one while connections already
    // holding the old one keep it. Returns nullptr if `sni` is not an intercepted host, or if
    // issuing failed (logged; e.g. the CA itself has expired). Thread-safe.
    [[nodiscard]] std::shared_ptr<SSL_CTX> server_context_for(std::string_view sni);

    // Whether `host` (normalized as above) is one of the intercepted hosts.
    bool intercepts(std::string_view host) const;

    std::string ca_cert_pem() const;
    const std::string& ca_cert_path() const;
    const std::string& ca_key_path() const;
    // Borrowed; valid as long as this object.
    X509* ca_certificate() const;

    // Number of hosts with a cached leaf (for stats and tests).
    std::size_t cached_leaf_count() const;

private:
    struct State;
    explicit CertificateAuthority(std::unique_ptr<State> state);

    std::unique_ptr<State> state_;
};

// Lowercases and drops one trailing dot; returns "" if `host` is not a plausible DNS name
// (labels of [a-z0-9_-], 1..63 bytes, total ≤ 253).
std::string normalize_dns_name(std::string_view host);

}  // namespace sluice
