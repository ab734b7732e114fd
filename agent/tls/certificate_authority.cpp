#include "agent/tls/certificate_authority.h"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "agent/common/time_format.h"
#include "agent/tls/server_context.h"

namespace sluice {
namespace {

using TimePoint = std::chrono::system_clock::time_point;
using std::chrono::seconds;

constexpr const char* kCertFileName = "ca.crt";
constexpr const char* kKeyFileName = "ca.key";
constexpr std::size_t kMaxPemFileBytes = 64 * 1024;
constexpr std::size_t kSerialBytes = 16;  // 128 bits; CA/B asks for ≥ 64 bits of entropy
constexpr int kMaxSubjectCnBytes = 64;    // ub-common-name, RFC 5280 appendix A.1
constexpr const char* kRegenerateHint =
    "to start over, remove ca.crt and ca.key (clients must then trust the new ca.crt)";

[[noreturn]] void throw_openssl(const std::string& what) {
    throw std::runtime_error(what + ": " + drain_openssl_errors());
}

std::string errno_text() { return std::strerror(errno); }

TimePoint floor_seconds(TimePoint t) { return std::chrono::floor<seconds>(t); }

std::time_t to_time_t(TimePoint t) { return std::chrono::system_clock::to_time_t(t); }

TimePoint to_time_point(const ASN1_TIME* t) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1) throw_openssl("certificate time");
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

void set_time(ASN1_TIME* field, TimePoint t) {
    if (ASN1_TIME_set(field, to_time_t(t)) == nullptr) throw_openssl("certificate time");
}

EvpPkeyPtr generate_p256_key() {
    EvpPkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) throw_openssl("generating a P-256 key");
    return key;
}

void set_random_serial(X509* cert) {
    unsigned char bytes[kSerialBytes];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw_openssl("random serial");
    bytes[0] &= 0x7f;  // DER INTEGER must stay positive in 16 octets
    bytes[0] |= 0x40;  // and non-zero, with a fixed length
    BignumPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
        throw_openssl("random serial");
    }
}

// Extensions from their config-syntax value. Only fixed strings and names that passed
// normalize_dns_name ([a-z0-9._-]) reach here, so nothing can inject config syntax.
void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
    X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        throw_openssl(std::string("certificate extension ") + OBJ_nid2sn(nid) + "=" + value);
    }
}

void add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
        throw_openssl(std::string("certificate name ") + field);
    }
}

void sign(X509* cert, EVP_PKEY* key) {
    if (X509_sign(cert, key, EVP_sha256()) == 0) throw_openssl("signing certificate");
}

X509Ptr build_ca_certificate(EVP_PKEY* key, const std::vector<std::string>& hosts, TimePoint now) {
    X509Ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) throw_openssl("X509_new");
    set_random_serial(cert.get());

    // A per-installation suffix keeps two machines' CAs apart in a shared trust store.
    unsigned char tag[4];
    if (RAND_bytes(tag, sizeof tag) != 1) throw_openssl("random CA tag");
    char tag_hex[9];
    std::snprintf(tag_hex, sizeof tag_hex, "%02x%02x%02x%02x", tag[0], tag[1], tag[2], tag[3]);
    X509_NAME* name = X509_get_subject_name(cert.get());
    add_name_entry(name, "O", "sluice");
    add_name_entry(name, "CN", std::string("sluice interception CA ") + tag_hex);
    if (X509_set_issuer_name(cert.get(), name) != 1) throw_openssl("CA issuer name");

    set_time(X509_getm_notBefore(cert.get()), floor_seconds(now) - ca_limits::kCaBackdate);
    set_time(X509_getm_notAfter(cert.get()), floor_seconds(now) + ca_limits::kCaValidity);
    if (X509_set_pubkey(cert.get(), key) != 1) throw_openssl("CA public key");

    add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    // Critical, so a client that cannot enforce the constraint rejects the CA instead of
    // trusting it for every name (RFC 5280 §4.2.1.10).
    std::string permitted = "critical";
    for (const auto& host : hosts) permitted += ",permitted;DNS:" + host;
    add_extension(cert.get(), cert.get(), NID_name_constraints, permitted);

    sign(cert.get(), key);
    return cert;
}

struct IssuedLeaf {
    X509Ptr cert;
    TimePoint not_before;
    TimePoint not_after;
};

// SAN = the host; no SKI on the leaf (an SKI equal to the CA's breaks SChannel: mitmproxy #6494).
IssuedLeaf issue_leaf(X509* ca_cert, EVP_PKEY* ca_key, TimePoint ca_not_after, EVP_PKEY* leaf_key,
                      const std::string& host, TimePoint now) {
    IssuedLeaf leaf;
    leaf.not_before = floor_seconds(now) - ca_limits::kLeafBackdate;
    leaf.not_after = std::min(leaf.not_before + ca_limits::kLeafLifetime, ca_not_after);
    if (leaf.not_after <= now) {
        throw std::runtime_error("the CA certificate expired at " + format_utc(ca_not_after) +
                                 "; " + kRegenerateHint);
    }

    leaf.cert.reset(X509_new());
    X509* cert = leaf.cert.get();
    if (cert == nullptr || X509_set_version(cert, X509_VERSION_3) != 1) throw_openssl("X509_new");
    set_random_serial(cert);
    if (X509_set_issuer_name(cert, X509_get_subject_name(ca_cert)) != 1) {
        throw_openssl("leaf issuer name");
    }
    // RFC 5280 §4.2.1.6: with an empty subject the SAN must be critical.
    const bool has_cn = host.size() <= kMaxSubjectCnBytes;
    if (has_cn) add_name_entry(X509_get_subject_name(cert), "CN", host);
    set_time(X509_getm_notBefore(cert), leaf.not_before);
    set_time(X509_getm_notAfter(cert), leaf.not_after);
    if (X509_set_pubkey(cert, leaf_key) != 1) throw_openssl("leaf public key");

    add_extension(cert, ca_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, ca_cert, NID_key_usage, "critical,digitalSignature");
    add_extension(cert, ca_cert, NID_ext_key_usage, "serverAuth");
    add_extension(cert, ca_cert, NID_authority_key_identifier, "keyid:always");
    add_extension(cert, ca_cert, NID_subject_alt_name,
                  std::string(has_cn ? "" : "critical,") + "DNS:" + host);
    sign(cert, ca_key);
    return leaf;
}

std::string to_pem(X509* cert) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) throw_openssl("PEM-encoding the CA");
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

// Holds key material; wiped on destruction.
struct SecretBuffer {
    std::string bytes;
    ~SecretBuffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

SecretBuffer key_to_pem(EVP_PKEY* key) {
    BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio ||
        PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        throw_openssl("PEM-encoding the CA key");
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return SecretBuffer{std::string(data, static_cast<std::size_t>(len))};
}

class FileDescriptor {
public:
    explicit FileDescriptor(int fd) : fd_(fd) {}
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    // Reports close errors (the last chance to see a failed write on some filesystems).
    bool close() {
        int fd = fd_;
        fd_ = -1;
        return ::close(fd) == 0;
    }

private:
    int fd_;
};

void read_all(int fd, const std::string& path, std::string& out) {
    char buf[4096];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("cannot read " + path + ": " + errno_text());
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > kMaxPemFileBytes) {
            throw std::runtime_error(path + " is larger than " + std::to_string(kMaxPemFileBytes) +
                                     " bytes; it is not a CA file sluice wrote; " +
                                     kRegenerateHint);
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
}

void write_all(int fd, const std::string& path, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error("cannot write " + path + ": " + errno_text());
        off += static_cast<std::size_t>(n);
    }
}

// Writes `data` to dir/name with exactly `mode`, never replacing an existing file and never
// leaving a partial one under the final name: write a temporary (O_EXCL, created with `mode`,
// so key bytes are never in a file others can open), fsync, then link() it into place, which
// fails if the name exists (another sluiced racing us).
void write_new_file(const std::string& dir, const std::string& name, const std::string& data,
                    mode_t mode) {
    const std::string path = dir + "/" + name;
    const std::string tmp = dir + "/." + name + ".tmp";
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) {
        throw std::runtime_error("cannot remove stale " + tmp + ": " + errno_text());
    }
    FileDescriptor fd(
        ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (fd.get() < 0) throw std::runtime_error("cannot create " + tmp + ": " + errno_text());
    try {
        // The umask may have narrowed `mode`; set it exactly (never wider than asked).
        if (::fchmod(fd.get(), mode) != 0) {
            throw std::runtime_error("cannot chmod " + tmp + ": " + errno_text());
        }
        write_all(fd.get(), tmp, data);
        if (::fsync(fd.get()) != 0)
            throw std::runtime_error("cannot fsync " + tmp + ": " + errno_text());
        if (!fd.close()) throw std::runtime_error("cannot close " + tmp + ": " + errno_text());
        if (::link(tmp.c_str(), path.c_str()) != 0) {
            throw std::runtime_error("cannot create " + path + ": " + errno_text() +
                                     (errno == EEXIST ? " (is another sluiced starting?)" : ""));
        }
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    ::unlink(tmp.c_str());
}

void fsync_directory(const std::string& dir) {
    FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
        throw std::runtime_error("cannot fsync " + dir + ": " + errno_text());
    }
}

void ensure_state_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::path p(dir);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw std::runtime_error("cannot create state_dir " + dir + ": " + errno_text());
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw std::runtime_error("state_dir " + dir + " is not a directory");
    }
}

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

EvpPkeyPtr read_private_key(const std::string& path) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw std::runtime_error("cannot open " + path + ": " + errno_text());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw std::runtime_error("cannot stat " + path + ": " + errno_text());
    if (!S_ISREG(st.st_mode)) throw std::runtime_error(path + " is not a regular file");
    if ((st.st_mode & 077) != 0) {
        throw std::runtime_error(path + " has mode " + octal_mode(st.st_mode) +
                                 "; the CA key must not be accessible by group or others: run "
                                 "chmod 600 on it if it never leaked, otherwise " +
                                 kRegenerateHint);
    }
    SecretBuffer pem;
    read_all(fd.get(), path, pem.bytes);
    BioPtr bio(BIO_new_mem_buf(pem.bytes.data(), static_cast<int>(pem.bytes.size())));
    EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key) {
        drain_openssl_errors();
        throw std::runtime_error(path + " is not a PEM private key sluice can read; " +
                                 kRegenerateHint);
    }
    return key;
}

X509Ptr read_certificate(const std::string& path) {
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw std::runtime_error("cannot open " + path + ": " + errno_text());
    std::string pem;
    read_all(fd.get(), path, pem);
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert) {
        drain_openssl_errors();
        throw std::runtime_error(path + " is not a PEM certificate; " + kRegenerateHint);
    }
    return cert;
}

// Whether the CA's name constraints admit `host` as a dNSName, by OpenSSL's own rules: a
// scratch certificate carrying only that SAN is checked with NAME_CONSTRAINTS_check.
// RFC 5280 §4.2.1.10 for dNSName: a host is within a permitted subtree when it equals the
// base or ends with "." + base. Checked directly rather than through NAME_CONSTRAINTS_check on
// a scratch certificate, whose result depended on OpenSSL's extension cache having been
// (re)computed and let uncovered hosts through in one build.
bool constraints_permit(NAME_CONSTRAINTS* nc, const std::string& host) {
    const auto dns_base = [](GENERAL_SUBTREE* subtree) -> std::optional<std::string> {
        if (subtree->base->type != GEN_DNS) return std::nullopt;
        const ASN1_IA5STRING* name = subtree->base->d.dNSName;
        std::string base(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name)),
                         static_cast<size_t>(ASN1_STRING_length(name)));
        for (char& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!base.empty() && base.front() == '.') base.erase(0, 1);
        return base;
    };
    const auto within = [&](const std::string& base) {
        return host == base || (host.size() > base.size() && host.ends_with(base) &&
                                host[host.size() - base.size() - 1] == '.');
    };
    for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->excludedSubtrees); ++i) {
        if (auto base = dns_base(sk_GENERAL_SUBTREE_value(nc->excludedSubtrees, i));
            base && within(*base))
            return false;
    }
    for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); ++i) {
        if (auto base = dns_base(sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i));
            base && within(*base))
            return true;
    }
    return false;
}

bool constrains_dns(const NAME_CONSTRAINTS* nc) {
    for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); ++i) {
        if (sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i)->base->type == GEN_DNS) return true;
    }
    return false;
}

void check_loaded_ca(const std::string& cert_path, const std::string& key_path, X509* cert,
                     EVP_PKEY* key, const std::vector<std::string>& hosts, TimePoint now) {
    if (X509_check_private_key(cert, key) != 1) {
        drain_openssl_errors();
        throw std::runtime_error(key_path + " is not the key of " + cert_path + "; " +
                                 kRegenerateHint);
    }
    if (X509_check_ca(cert) < 1) {
        throw std::runtime_error(cert_path + " is not a CA certificate; " + kRegenerateHint);
    }
    TimePoint not_after = to_time_point(X509_get0_notAfter(cert));
    if (not_after <= now) {
        throw std::runtime_error(cert_path + " expired at " + format_utc(not_after) + "; " +
                                 kRegenerateHint);
    }
    int critical = -1;
    NameConstraintsPtr nc(static_cast<NAME_CONSTRAINTS*>(
        X509_get_ext_d2i(cert, NID_name_constraints, &critical, nullptr)));
    if (!nc || !constrains_dns(nc.get())) {
        throw std::runtime_error(cert_path +
                                 " has no DNS name constraints, so its key could impersonate "
                                 "any site; sluice only uses a name-constrained CA; " +
                                 kRegenerateHint);
    }
    for (const auto& host : hosts) {
        if (!constraints_permit(nc.get(), host)) {
            throw std::runtime_error(cert_path + " is name-constrained and does not permit " +
                                     host + " (intercepted hosts changed?); " + kRegenerateHint);
        }
    }
}

std::vector<std::string> normalize_hosts(const std::vector<std::string>& hosts) {
    std::vector<std::string> out;
    for (const auto& h : hosts) {
        std::string n = normalize_dns_name(h);
        if (n.empty()) throw std::runtime_error("intercepted host '" + h + "' is not a DNS name");
        out.push_back(std::move(n));
    }
    if (out.empty()) throw std::runtime_error("the CA needs at least one intercepted host");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

std::string normalize_dns_name(std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (host.empty() || host.size() > 253) return {};
    std::string out;
    out.reserve(host.size());
    std::size_t label = 0;
    for (char c : host) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c == '.') {
            if (label == 0) return {};
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            if (++label > 63) return {};
        } else {
            return {};
        }
        out.push_back(c);
    }
    return out;
}

struct CachedLeaf {
    std::shared_ptr<SSL_CTX> context;
    TimePoint not_before;
    TimePoint renew_at;
    TimePoint not_after;
};

struct CertificateAuthority::State {
    std::string cert_path;
    std::string key_path;
    std::vector<std::string> hosts;  // normalized, sorted, unique
    WallClock clock;
    X509Ptr ca_cert;
    EvpPkeyPtr ca_key;
    TimePoint ca_not_after;
    std::string ca_pem;
    // One key for all leaves of this process: it lives only in memory, and a fresh one per start
    // keeps leaf keys off disk without paying a key generation per host.
    EvpPkeyPtr leaf_key;

    mutable std::mutex mutex;
    std::map<std::string, CachedLeaf, std::less<>> leaves;  // guarded by mutex
};

CertificateAuthority::CertificateAuthority(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;
CertificateAuthority::~CertificateAuthority() = default;

CertificateAuthority CertificateAuthority::load_or_create(
    const std::string& state_dir, const std::vector<std::string>& intercepted_hosts,
    WallClock clock) {
    auto state = std::make_unique<State>();
    state->hosts = normalize_hosts(intercepted_hosts);
    state->clock = clock ? std::move(clock) : WallClock(system_wall_clock);
    state->cert_path = state_dir + "/" + kCertFileName;
    state->key_path = state_dir + "/" + kKeyFileName;
    const TimePoint now = state->clock();

    ensure_state_dir(state_dir);
    const bool have_cert = file_exists(state->cert_path);
    const bool have_key = file_exists(state->key_path);
    if (have_cert != have_key) {
        throw std::runtime_error(
            std::string("found ") + (have_cert ? state->cert_path : state->key_path) + " but not " +
            (have_cert ? state->key_path : state->cert_path) + "; " + kRegenerateHint);
    }
    if (have_cert) {
        state->ca_key = read_private_key(state->key_path);
        state->ca_cert = read_certificate(state->cert_path);
        check_loaded_ca(state->cert_path, state->key_path, state->ca_cert.get(),
                        state->ca_key.get(), state->hosts, now);
        spdlog::info("tls: loaded CA {}", state->cert_path);
    } else {
        state->ca_key = generate_p256_key();
        state->ca_cert = build_ca_certificate(state->ca_key.get(), state->hosts, now);
        SecretBuffer key_pem = key_to_pem(state->ca_key.get());
        write_new_file(state_dir, kKeyFileName, key_pem.bytes, 0600);
        try {
            write_new_file(state_dir, kCertFileName, to_pem(state->ca_cert.get()), 0644);
            fsync_directory(state_dir);
        } catch (...) {
            ::unlink(state->key_path.c_str());
            throw;
        }
        std::string hosts;
        for (const auto& h : state->hosts) hosts += (hosts.empty() ? "" : ",") + h;
        spdlog::info("tls: generated CA {} (name-constrained to {})", state->cert_path, hosts);
    }
    state->ca_not_after = to_time_point(X509_get0_notAfter(state->ca_cert.get()));
    if (state->ca_not_after - now < ca_limits::kLeafLifetime) {
        spdlog::warn("tls: CA {} expires at {}; {}", state->cert_path,
                     format_utc(state->ca_not_after), kRegenerateHint);
    }
    state->ca_pem = to_pem(state->ca_cert.get());
    state->leaf_key = generate_p256_key();
    return CertificateAuthority(std::move(state));
}

bool CertificateAuthority::intercepts(std::string_view host) const {
    std::string n = normalize_dns_name(host);
    return !n.empty() && std::binary_search(state_->hosts.begin(), state_->hosts.end(), n);
}

std::shared_ptr<SSL_CTX> CertificateAuthority::server_context_for(std::string_view sni) {
    std::string host = normalize_dns_name(sni);
    if (host.empty() || !std::binary_search(state_->hosts.begin(), state_->hosts.end(), host)) {
        return nullptr;
    }
    const TimePoint now = state_->clock();
    std::lock_guard lock(state_->mutex);
    auto it = state_->leaves.find(host);
    // A clock that stepped back before notBefore needs a new leaf just as much as an old one.
    if (it != state_->leaves.end() && now >= it->second.not_before && now < it->second.renew_at) {
        return it->second.context;
    }
    try {
        IssuedLeaf leaf = issue_leaf(state_->ca_cert.get(), state_->ca_key.get(),
                                     state_->ca_not_after, state_->leaf_key.get(), host, now);
        CachedLeaf cached;
        cached.context = make_intercept_server_context(leaf.cert.get(), state_->leaf_key.get(),
                                                       state_->ca_cert.get());
        cached.not_before = leaf.not_before;
        cached.not_after = leaf.not_after;
        cached.renew_at = leaf.not_before + (leaf.not_after - leaf.not_before) *
                                                (ca_limits::kLeafRenewDivisor - 1) /
                                                ca_limits::kLeafRenewDivisor;
        spdlog::info("tls: issued leaf for {} valid until {}", host, format_utc(leaf.not_after));
        state_->leaves[host] = cached;
        return cached.context;
    } catch (const std::exception& e) {
        drain_openssl_errors();
        // Keep serving a renewal-due leaf that has not expired yet rather than failing clients.
        if (it != state_->leaves.end() && now >= it->second.not_before &&
            now < it->second.not_after) {
            spdlog::error("tls: renewing leaf for {} failed, serving the current one: {}", host,
                          e.what());
            return it->second.context;
        }
        spdlog::error("tls: issuing leaf for {} failed: {}", host, e.what());
        return nullptr;
    }
}

std::string CertificateAuthority::ca_cert_pem() const { return state_->ca_pem; }
const std::string& CertificateAuthority::ca_cert_path() const { return state_->cert_path; }
const std::string& CertificateAuthority::ca_key_path() const { return state_->key_path; }
X509* CertificateAuthority::ca_certificate() const { return state_->ca_cert.get(); }

std::size_t CertificateAuthority::cached_leaf_count() const {
    std::lock_guard lock(state_->mutex);
    return state_->leaves.size();
}

}  // namespace sluice
