#include "agent/tls/client_hello_peek.h"

#include <algorithm>
#include <bitset>
#include <cstddef>

#include "agent/common/limits.h"

namespace sluice {
namespace {

// RFC 8446 §5.1 / RFC 5246 §6.2.1.
constexpr uint8_t kContentTypeHandshake = 22;
constexpr uint8_t kHandshakeTypeClientHello = 1;
constexpr std::size_t kRecordHeaderBytes = 5;
constexpr std::size_t kHandshakeHeaderBytes = 4;
constexpr std::size_t kMaxRecordPayloadBytes = 16 * 1024;  // 2^14 plaintext
constexpr uint16_t kExtensionServerName = 0;               // RFC 6066 §3
constexpr uint16_t kExtensionAlpn = 16;                    // RFC 7301 §3.1
// draft-ietf-tls-esni (Encrypted Client Hello): the real name is in an encrypted inner hello.
constexpr uint16_t kExtensionEncryptedClientHello = 0xfe0d;
constexpr uint8_t kServerNameTypeHostName = 0;
constexpr std::size_t kMaxHostNameBytes = 255;

// A bounds-checked cursor over a complete message: every read fails instead of running past the
// end, and a failed read poisons the reader so callers can check once.
class ByteReader {
public:
    explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

    bool ok() const { return ok_; }
    bool empty() const { return pos_ == bytes_.size(); }
    std::size_t remaining() const { return bytes_.size() - pos_; }

    uint8_t u8() {
        if (!require(1)) return 0;
        return bytes_[pos_++];
    }
    uint16_t u16() {
        if (!require(2)) return 0;
        uint16_t v = static_cast<uint16_t>(bytes_[pos_] << 8 | bytes_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    std::span<const uint8_t> take(std::size_t n) {
        if (!require(n)) return {};
        auto out = bytes_.subspan(pos_, n);
        pos_ += n;
        return out;
    }
    // A vector with a length prefix of `prefix_bytes` (1 or 2), as TLS encodes them.
    ByteReader vector(std::size_t prefix_bytes) {
        std::size_t n = prefix_bytes == 1 ? u8() : u16();
        return ByteReader(take(n), ok_);
    }

private:
    ByteReader(std::span<const uint8_t> bytes, bool ok) : bytes_(bytes), ok_(ok) {}
    bool require(std::size_t n) {
        if (!ok_ || remaining() < n) ok_ = false;
        return ok_;
    }

    std::span<const uint8_t> bytes_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

SniResult with_status(ClientHelloStatus status) {
    SniResult r;
    r.status = status;
    return r;
}

// server_name (RFC 6066 §3). At most one host_name; other name types are skipped as the RFC
// asks. Bytes outside printable ASCII (NUL especially) make the hello malformed: the name
// goes on to C APIs and to policy matching.
bool parse_server_name(ByteReader ext, std::optional<std::string>& sni) {
    ByteReader list = ext.vector(2);
    if (!ext.ok() || !ext.empty() || list.empty()) return false;
    while (!list.empty()) {
        uint8_t type = list.u8();
        auto name = list.vector(2);
        if (!list.ok()) return false;
        if (type != kServerNameTypeHostName) continue;
        auto bytes = name.take(name.remaining());
        if (sni || bytes.empty() || bytes.size() > kMaxHostNameBytes) return false;
        std::string host;
        host.reserve(bytes.size());
        for (uint8_t c : bytes) {
            if (c < 0x21 || c > 0x7e) return false;
            host.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
        }
        sni = std::move(host);
    }
    return true;
}

// application_layer_protocol_negotiation (RFC 7301 §3.1): a non-empty list of non-empty names.
bool parse_alpn(ByteReader ext, std::vector<std::string>& alpn) {
    ByteReader list = ext.vector(2);
    if (!ext.ok() || !ext.empty() || list.empty()) return false;
    while (!list.empty()) {
        auto name = list.vector(1);
        if (!list.ok() || name.empty()) return false;
        auto bytes = name.take(name.remaining());
        alpn.emplace_back(bytes.begin(), bytes.end());
    }
    return true;
}

// ClientHello body (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2), complete in `body`.
SniResult parse_client_hello_body(std::span<const uint8_t> body) {
    SniResult result = with_status(ClientHelloStatus::not_tls);
    ByteReader r(body);
    r.u16();     // legacy_version
    r.take(32);  // random
    auto session_id = r.vector(1);
    auto cipher_suites = r.vector(2);
    auto compression = r.vector(1);
    if (!r.ok() || session_id.remaining() > 32 || cipher_suites.empty() ||
        cipher_suites.remaining() % 2 != 0 || compression.empty()) {
        return result;
    }
    // Extensions are optional before TLS 1.3 (RFC 5246 §7.4.1.2).
    if (!r.empty()) {
        ByteReader extensions = r.vector(2);
        if (!r.ok() || !r.empty()) return result;
        std::bitset<65536> seen;  // "MUST NOT be more than one extension of the same type"
        while (!extensions.empty()) {
            uint16_t type = extensions.u16();
            ByteReader data = extensions.vector(2);
            if (!extensions.ok() || seen.test(type)) return result;
            seen.set(type);
            if (type == kExtensionServerName && !parse_server_name(data, result.sni)) {
                return result;
            }
            if (type == kExtensionAlpn && !parse_alpn(data, result.alpn)) return result;
            if (type == kExtensionEncryptedClientHello) result.encrypted_client_hello = true;
        }
    }
    result.status = ClientHelloStatus::ok;
    return result;
}

}  // namespace

SniResult parse_client_hello(std::span<const uint8_t> bytes) {
    const std::size_t cap = limits::kClientHelloMaxBytes;
    const bool capped = bytes.size() >= cap;
    bytes = bytes.first(std::min(bytes.size(), cap));

    // Reassemble the handshake message from as many records as it spans (RFC 8446 §5.1 lets a
    // handshake message be fragmented across records; only handshake records may appear).
    std::vector<uint8_t> handshake;
    std::size_t message_bytes = 0;  // header + body, known once 4 handshake bytes are in
    std::size_t pos = 0;
    while (true) {
        std::size_t avail = bytes.size() - pos;
        // Judge a partial record header as far as it goes, so garbage fails on the first byte.
        if (avail >= 1 && bytes[pos] != kContentTypeHandshake) {
            return with_status(ClientHelloStatus::not_tls);
        }
        if (avail >= 2 && bytes[pos + 1] != 3) return with_status(ClientHelloStatus::not_tls);
        if (avail >= 3 && bytes[pos + 2] > 4) return with_status(ClientHelloStatus::not_tls);
        if (avail < kRecordHeaderBytes) break;
        std::size_t record_len = static_cast<std::size_t>(bytes[pos + 3] << 8 | bytes[pos + 4]);
        // Zero-length handshake fragments are forbidden (RFC 8446 §5.1).
        if (record_len == 0 || record_len > kMaxRecordPayloadBytes) {
            return with_status(ClientHelloStatus::not_tls);
        }
        pos += kRecordHeaderBytes;
        std::size_t take = std::min(record_len, bytes.size() - pos);
        handshake.insert(handshake.end(), bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                         bytes.begin() + static_cast<std::ptrdiff_t>(pos + take));
        pos += take;

        if (message_bytes == 0 && handshake.size() >= kHandshakeHeaderBytes) {
            if (handshake[0] != kHandshakeTypeClientHello) {
                return with_status(ClientHelloStatus::not_tls);
            }
            std::size_t body_len = static_cast<std::size_t>(handshake[1]) << 16 |
                                   static_cast<std::size_t>(handshake[2]) << 8 | handshake[3];
            message_bytes = kHandshakeHeaderBytes + body_len;
            // Even in a single record it could not fit under the cap.
            if (message_bytes + kRecordHeaderBytes > cap) {
                return with_status(ClientHelloStatus::too_big);
            }
        }
        if (message_bytes != 0 && handshake.size() >= message_bytes) {
            // Whatever follows the ClientHello in the same record or later ones (a TLS 1.3
            // client sends nothing more before the server answers) is not ours to judge.
            return parse_client_hello_body(std::span<const uint8_t>(handshake).subspan(
                kHandshakeHeaderBytes, message_bytes - kHandshakeHeaderBytes));
        }
        if (take < record_len) break;  // the record itself is incomplete
    }
    if (!handshake.empty() && handshake[0] != kHandshakeTypeClientHello) {
        return with_status(ClientHelloStatus::not_tls);
    }
    // Fragmented into so many records that the headers push it past the cap.
    return with_status(capped ? ClientHelloStatus::too_big : ClientHelloStatus::need_more);
}

const char* to_string(ClientHelloStatus status) {
    switch (status) {
        case ClientHelloStatus::need_more:
            return "need_more";
        case ClientHelloStatus::ok:
            return "ok";
        case ClientHelloStatus::not_tls:
            return "not_tls";
        case ClientHelloStatus::too_big:
            return "too_big";
    }
    return "unknown";
}

}  // namespace sluice
