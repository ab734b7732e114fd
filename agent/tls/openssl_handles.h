// Owning types for OpenSSL handles: every EVP_PKEY, X509, SSL_CTX... lives in one of these, so
// no code path frees by hand. Each deleter is the matching *_free (all of them accept nullptr).
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace sluice {

namespace detail {
template <typename T, void (*Free)(T*)>
struct OpensslDeleter {
    void operator()(T* p) const noexcept { Free(p); }
};
// BIO_free returns int; wrap it so it fits the deleter shape.
inline void bio_free(BIO* b) { BIO_free_all(b); }
}  // namespace detail

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, detail::OpensslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, detail::OpensslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, detail::OpensslDeleter<X509, X509_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, detail::OpensslDeleter<X509_NAME, X509_NAME_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, detail::OpensslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using X509StorePtr =
    std::unique_ptr<X509_STORE, detail::OpensslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, detail::OpensslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using NameConstraintsPtr =
    std::unique_ptr<NAME_CONSTRAINTS,
                    detail::OpensslDeleter<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, detail::OpensslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using BasicConstraintsPtr =
    std::unique_ptr<BASIC_CONSTRAINTS,
                    detail::OpensslDeleter<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>>;
using Asn1IntegerPtr =
    std::unique_ptr<ASN1_INTEGER, detail::OpensslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, detail::OpensslDeleter<ASN1_TIME, ASN1_TIME_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, detail::OpensslDeleter<BIGNUM, BN_free>>;
using BioPtr = std::unique_ptr<BIO, detail::OpensslDeleter<BIO, detail::bio_free>>;
using SslPtr = std::unique_ptr<SSL, detail::OpensslDeleter<SSL, SSL_free>>;
using SslSessionPtr =
    std::unique_ptr<SSL_SESSION, detail::OpensslDeleter<SSL_SESSION, SSL_SESSION_free>>;

// SSL_CTX is shared: sessions keep the context they were created from alive while a renewed
// one replaces it in a cache.
inline std::shared_ptr<SSL_CTX> adopt_ssl_ctx(SSL_CTX* ctx) {
    return std::shared_ptr<SSL_CTX>(ctx, [](SSL_CTX* c) { SSL_CTX_free(c); });
}

// Drains OpenSSL's thread-local error queue into one line ("" if empty), for exception
// messages and logs. Draining also keeps stale errors from confusing the next SSL_get_error.
inline std::string drain_openssl_errors() {
    std::string out;
    while (unsigned long code = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(code, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

}  // namespace sluice
