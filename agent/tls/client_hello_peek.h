// Reads SNI and ALPN out of the first bytes a client sends, without consuming them: the proxy
// peeks, decides intercept vs. splice, then replays the same bytes into OpenSSL or upstream.
// Pure: no sockets, no OpenSSL, no allocation beyond the result and one reassembly buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sluice {

enum class ClientHelloStatus {
    need_more,  // a valid prefix so far; call again with more bytes
    ok,         // a complete, well-formed ClientHello
    not_tls,    // not a TLS ClientHello, or a malformed one: close, or splice blind by policy
    too_big,    // looks like TLS but the ClientHello does not fit in limits::kClientHelloMaxBytes
};

struct SniResult {
    ClientHelloStatus status = ClientHelloStatus::need_more;
    // host_name from server_name, lowercased. Absent when the client sent no SNI.
    std::optional<std::string> sni;
    // ALPN protocol names in the client's order of preference (empty if no ALPN extension).
    std::vector<std::string> alpn;
    // The hello carries Encrypted Client Hello: `sni` is only the outer (public) name, and the
    // server the client really asks for cannot be known without the ECH key.
    bool encrypted_client_hello = false;
};

// Parses whatever prefix of the connection has arrived so far (call again with the longer
// prefix when need_more). Accepts a ClientHello fragmented over several handshake records;
// looks at no more than limits::kClientHelloMaxBytes bytes and never past `bytes`.
// Only `ok` fills sni/alpn.
[[nodiscard]] SniResult parse_client_hello(std::span<const uint8_t> bytes);

const char* to_string(ClientHelloStatus status);

}  // namespace sluice
