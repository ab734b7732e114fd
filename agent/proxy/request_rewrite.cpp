#include "agent/proxy/request_rewrite.h"

#include <vector>

#include <boost/beast/http/rfc7230.hpp>

#include "policy/ascii_case.h"

namespace sluice {

namespace http = boost::beast::http;

namespace {

ClientError bad_framing(std::string message) {
    return ClientError{400, "invalid_request_error", "bad_request_framing", std::move(message)};
}

// Fields that only describe this hop (RFC 9110 §7.6.1).
bool is_hop_by_hop(http::field name) {
    switch (name) {
        case http::field::connection:
        case http::field::keep_alive:
        case http::field::proxy_connection:
        case http::field::proxy_authorization:
        case http::field::proxy_authenticate:
        case http::field::te:
        case http::field::trailer:
        case http::field::upgrade:
            return true;
        default:
            return false;
    }
}

// Erases, in one walk of the field list, the hop-by-hop fields, those the Connection field
// names, and those `also_erase` picks. (An erase by name is a case-insensitive tree search;
// a request went through a dozen of them.)
template <class Header, class Predicate>
void remove_hop_by_hop(Header& header, Predicate also_erase) {
    std::vector<std::string> named;
    for (const auto& field : header) {
        if (field.name() != http::field::connection) continue;
        for (auto token : http::token_list(field.value())) named.emplace_back(token);
    }
    auto connection_names = [&](const auto& field) {
        for (const auto& name : named)
            if (ascii_iequals(name, field.name_string())) return true;
        return false;
    };
    for (auto it = header.begin(); it != header.end();) {
        if (is_hop_by_hop(it->name()) || also_erase(*it) ||
            (!named.empty() && connection_names(*it)))
            it = header.erase(it);
        else
            ++it;
    }
}

}  // namespace

std::optional<ClientError> validate_request_framing(const RequestHeader& header) {
    const bool has_te = header.count(http::field::transfer_encoding) > 0;
    const bool has_cl = header.count(http::field::content_length) > 0;
    if (has_te && has_cl)
        return bad_framing("request has both Transfer-Encoding and Content-Length");
    if (has_te) {
        if (header.count(http::field::transfer_encoding) > 1)
            return bad_framing("request has more than one Transfer-Encoding field");
        // Only chunked: a body under another coding (gzip, chunked) is one the controls
        // cannot read, and no API client sends one.
        http::token_list codings(header[http::field::transfer_encoding]);
        std::size_t count = 0;
        bool chunked = false;
        for (auto coding : codings) {
            ++count;
            chunked = ascii_iequals(coding, "chunked");
        }
        if (count != 1 || !chunked)
            return bad_framing("request Transfer-Encoding must be exactly chunked");
    }
    return std::nullopt;
}

std::string presented_credential(const RequestHeader& header) {
    auto authorization = header[http::field::authorization];
    if (!authorization.empty()) {
        constexpr std::string_view kBearer = "Bearer ";
        if (authorization.size() > kBearer.size() &&
            ascii_iequals(authorization.substr(0, kBearer.size()), kBearer))
            return std::string(authorization.substr(kBearer.size()));
        return std::string(authorization);
    }
    if (auto key = header["api-key"]; !key.empty()) return std::string(key);
    // A browser's WebSocket cannot set Authorization: the Realtime API takes the key as a
    // subprotocol, `openai-insecure-api-key.<key>` (docs/realtime.md).
    constexpr std::string_view kKeyProtocol = "openai-insecure-api-key.";
    for (auto protocol : http::token_list(header[http::field::sec_websocket_protocol]))
        if (protocol.size() > kKeyProtocol.size() &&
            ascii_iequals(protocol.substr(0, kKeyProtocol.size()), kKeyProtocol))
            return std::string(protocol.substr(kKeyProtocol.size()));
    return {};
}

void prepare_upstream_request(RequestHeader& header, std::string_view real_key) {
    remove_hop_by_hop(header, [](const auto& field) {
        switch (field.name()) {
            case http::field::authorization:
            case http::field::expect:  // 100-continue is answered by sluice itself
            case http::field::accept_encoding:
                return true;
            case http::field::unknown:
                return ascii_iequals(field.name_string(), "api-key");
            default:
                return false;
        }
    });
    header.insert(http::field::accept_encoding, "identity");
    std::string value = "Bearer ";
    value.append(real_key);
    header.insert(http::field::authorization, value);
}

void prepare_client_response(ResponseHeader& header) {
    remove_hop_by_hop(header, [](const auto&) { return false; });
}

}  // namespace sluice
