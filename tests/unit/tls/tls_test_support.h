// Shared fixtures for tests/unit/tls: temporary state dirs, a settable clock, and real TLS
// handshakes between two SSL objects over memory BIOs (no sockets, no threads).
#pragma once

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "agent/tls/certificate_authority.h"
#include "agent/tls/openssl_handles.h"

namespace sluice::test {

class TempDir {
public:
    TempDir() {
        std::string pattern = std::filesystem::temp_directory_path() / "sluice-tls-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// A clock tests move by hand; copies share the same time.
class ManualClock {
public:
    using TimePoint = std::chrono::system_clock::time_point;
    explicit ManualClock(TimePoint start = std::chrono::floor<std::chrono::seconds>(
                             std::chrono::system_clock::now()))
        : now_(std::make_shared<TimePoint>(start)) {}
    WallClock wall_clock() const {
        return [now = now_] { return *now; };
    }
    TimePoint now() const { return *now_; }
    void advance(std::chrono::system_clock::duration d) { *now_ += d; }
    void set(TimePoint t) { *now_ = t; }

private:
    std::shared_ptr<TimePoint> now_;
};

inline mode_t file_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return static_cast<mode_t>(-1);
    return st.st_mode & 07777;
}

inline std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline X509Ptr load_certificate(const std::string& path) {
    BioPtr bio(BIO_new_file(path.c_str(), "r"));
    return X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

inline EvpPkeyPtr load_private_key(const std::string& path) {
    BioPtr bio(BIO_new_file(path.c_str(), "r"));
    return EvpPkeyPtr(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                          : nullptr);
}

inline std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* t) {
    std::tm tm{};
    ASN1_TIME_to_tm(t, &tm);
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// X509_verify_cert of `leaf` against a store holding only `ca`, at `when`, for TLS servers.
// Returns the X509_V_* result (X509_V_OK on success).
inline int verify_leaf(X509* leaf, X509* ca, std::chrono::system_clock::time_point when) {
    X509StorePtr store(X509_STORE_new());
    X509_STORE_add_cert(store.get(), ca);
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
    X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(when));
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
    int ok = X509_verify_cert(ctx.get());
    int err = X509_STORE_CTX_get_error(ctx.get());
    return ok == 1 ? X509_V_OK : (err == X509_V_OK ? -1 : err);
}

// Moves bytes between a client SSL and a server SSL, each with its own pair of memory BIOs, so
// a test can look at (or hold back) what one side sends before the other sees it.
class MemoryTlsPair {
public:
    MemoryTlsPair(SSL_CTX* client_ctx, SSL_CTX* server_ctx)
        : client_(SSL_new(client_ctx)), server_(server_ctx ? SSL_new(server_ctx) : nullptr) {
        attach(client_.get(), client_in_, client_out_);
        SSL_set_connect_state(client_.get());
        if (server_) attach_server();
    }

    SSL* client() const { return client_.get(); }
    SSL* server() const { return server_.get(); }

    // For the peek-then-choose flow: the server is created only once its context is known.
    void set_server(SSL_CTX* server_ctx) {
        server_.reset(SSL_new(server_ctx));
        attach_server();
    }

    // Bytes the client has written and the server not yet received.
    std::vector<uint8_t> pending_from_client() const { return pending(client_out_); }

    // Drives both handshakes until both finish or one fails. Returns true if both completed.
    bool handshake(int max_rounds = 50) {
        SSL_do_handshake(client_.get());  // first flight, even before a server exists
        for (int i = 0; i < max_rounds; ++i) {
            int c = SSL_do_handshake(client_.get());
            if (c != 1 && !retryable(client_.get(), c)) return false;
            if (!server_) return false;
            shuttle(client_out_, server_in_);
            int s = SSL_do_handshake(server_.get());
            if (s != 1 && !retryable(server_.get(), s)) {
                shuttle(server_out_, client_in_);  // let the client see the alert
                SSL_do_handshake(client_.get());
                return false;
            }
            shuttle(server_out_, client_in_);
            if (c == 1 && s == 1 && BIO_ctrl_pending(server_out_) == 0) return true;
        }
        return false;
    }

    // One application-data round trip (server → client). Makes a TLS 1.3 client process the
    // NewSessionTicket messages the server sent after its Finished.
    bool exchange_data() {
        const char ping[] = "ping";
        if (SSL_write(server_.get(), ping, 4) != 4) return false;
        shuttle(server_out_, client_in_);
        char buf[16];
        int n = SSL_read(client_.get(), buf, sizeof buf);
        return n == 4;
    }

    // A clean close (close_notify both ways). Freeing an SSL without it makes OpenSSL mark the
    // connection's current session unresumable.
    void shutdown() {
        SSL_shutdown(client_.get());
        shuttle(client_out_, server_in_);
        SSL_shutdown(server_.get());
        shuttle(server_out_, client_in_);
        SSL_shutdown(client_.get());
    }

    std::string client_alpn() const {
        const unsigned char* p = nullptr;
        unsigned int len = 0;
        SSL_get0_alpn_selected(client_.get(), &p, &len);
        return std::string(reinterpret_cast<const char*>(p), len);
    }

private:
    static void attach(SSL* ssl, BIO*& in, BIO*& out) {
        in = BIO_new(BIO_s_mem());
        out = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(in, -1);  // empty means "retry", not EOF
        SSL_set_bio(ssl, in, out);       // the SSL owns both; we keep borrowed pointers
    }
    void attach_server() {
        attach(server_.get(), server_in_, server_out_);
        SSL_set_accept_state(server_.get());
    }
    static bool retryable(SSL* ssl, int rc) {
        int e = SSL_get_error(ssl, rc);
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
    static std::vector<uint8_t> pending(BIO* b) {
        char* data = nullptr;
        long n = BIO_get_mem_data(b, &data);
        return std::vector<uint8_t>(data, data + n);
    }
    static void shuttle(BIO* from, BIO* to) {
        char buf[4096];
        int n;
        while ((n = BIO_read(from, buf, sizeof buf)) > 0) BIO_write(to, buf, n);
    }

    SslPtr client_;
    SslPtr server_;
    BIO* client_in_ = nullptr;
    BIO* client_out_ = nullptr;
    BIO* server_in_ = nullptr;
    BIO* server_out_ = nullptr;
};

inline std::shared_ptr<SSL_CTX> make_client_context_trusting(const std::string& ca_file) {
    auto ctx = adopt_ssl_ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    return ctx;
}

// ALPN wire format from a list of names.
inline std::vector<unsigned char> alpn_wire(const std::vector<std::string>& names) {
    std::vector<unsigned char> out;
    for (const auto& n : names) {
        out.push_back(static_cast<unsigned char>(n.size()));
        out.insert(out.end(), n.begin(), n.end());
    }
    return out;
}

// The first flight of a real OpenSSL client: the ClientHello exactly as it goes on the wire.
inline std::vector<uint8_t> capture_client_hello(const std::string& sni,
                                                 const std::vector<std::string>& alpn) {
    auto ctx = adopt_ssl_ctx(SSL_CTX_new(TLS_client_method()));
    MemoryTlsPair pair(ctx.get(), nullptr);
    if (!sni.empty()) SSL_set_tlsext_host_name(pair.client(), sni.c_str());
    if (!alpn.empty()) {
        auto wire = alpn_wire(alpn);
        SSL_set_alpn_protos(pair.client(), wire.data(), static_cast<unsigned>(wire.size()));
    }
    pair.handshake(1);
    return pair.pending_from_client();
}

}  // namespace sluice::test
