#include "agent/proxy/request_rewrite.h"

#include <vector>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>

namespace sluice {

namespace http = boost::beast::http;

namespace {

ClientError bad_framing(std::string message) {
    return ClientError{400, "invalid_request_error", "bad_request_framing", std::move(message)};
}

// Fields that only describe this hop (RFC 9110 §7.6.1) plus those the Connection field names.
template <class Header>
void remove_hop_by_hop(Header& header) {
    std::vector<std::string> named;
    auto [first, last] = header.equal_range(http::field::connection);
    for (auto it = first; it != last; ++it) {
        for (auto token : http::token_list(it->value())) named.emplace_back(token);
    }
    for (const auto& name : named) header.erase(name);
    for (auto f : {http::field::connection, http::field::keep_alive, http::field::proxy_connection,
                   http::field::proxy_authorization, http::field::proxy_authenticate, http::field::te,
                   http::field::trailer, http::field::upgrade}) {
        header.erase(f);
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
        http::token_list codings(header[http::field::transfer_encoding]);
        std::string_view last;
        for (auto coding : codings) last = coding;
        if (!boost::beast::iequals(last, "chunked"))
            return bad_framing("request Transfer-Encoding must end in chunked");
    }
    return std::nullopt;
}

std::string presented_credential(const RequestHeader& header) {
    auto authorization = header[http::field::authorization];
    if (!authorization.empty()) {
        constexpr std::string_view kBearer = "Bearer ";
        if (authorization.size() > kBearer.size() &&
            boost::beast::iequals(authorization.substr(0, kBearer.size()), kBearer))
            return std::string(authorization.substr(kBearer.size()));
        return std::string(authorization);
    }
    return std::string(header["api-key"]);
}

void prepare_upstream_request(RequestHeader& header, std::string_view real_key) {
    remove_hop_by_hop(header);
    header.erase(http::field::authorization);
    header.erase("api-key");
    header.erase(http::field::expect);  // 100-continue is answered by sluice itself
    header.set(http::field::accept_encoding, "identity");
    std::string value = "Bearer ";
    value.append(real_key);
    header.set(http::field::authorization, value);
}

void prepare_client_response(ResponseHeader& header) { remove_hop_by_hop(header); }

}  // namespace sluice
