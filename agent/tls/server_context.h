// The TLS server side facing intercepted clients.
#pragma once

#include <memory>

#include "agent/tls/openssl_handles.h"

namespace sluice {

// A server context presenting `leaf` (with `leaf_key`) and chain `ca`: TLS 1.2 and 1.3 only,
// forward-secret AEAD suites, no compression or renegotiation, session tickets on, and ALPN that
// only ever selects http/1.1. A client offering only h2 gets no ALPN, which per RFC 7301 means
// it speaks HTTP/1.1 over the connection — the proxy core speaks nothing else.
// Throws std::runtime_error (with OpenSSL's reason) if OpenSSL refuses any of it.
std::shared_ptr<SSL_CTX> make_intercept_server_context(X509* leaf, EVP_PKEY* leaf_key, X509* ca);

}  // namespace sluice
