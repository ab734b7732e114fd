#include "agent/proxy/request_admission.h"

#include <array>
#include <string>

#include <boost/beast/core/string.hpp>

#include "agent/proxy/request_target.h"
#include "policy/ascii_case.h"

namespace sluice {

namespace http = boost::beast::http;

namespace {

ClientError bad_request(std::string code, std::string message) {
    return ClientError{400, "invalid_request_error", std::move(code), std::move(message)};
}

ClientError misdirected(std::string_view host) {
    return ClientError{421, "invalid_request_error", "misdirected_request",
                       "this connection serves " + std::string(host) + " only"};
}

bool is_standard_method(http::verb method) {
    switch (method) {
        case http::verb::get:
        case http::verb::post:
        case http::verb::put:
        case http::verb::patch:
        case http::verb::delete_:
        case http::verb::head:
        case http::verb::options:
            return true;
        default:
            return false;
    }
}

// The media type of a Content-Type value: before any parameter, without surrounding spaces.
std::string_view media_type(std::string_view content_type) {
    content_type = content_type.substr(0, content_type.find(';'));
    while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t'))
        content_type.remove_prefix(1);
    while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t'))
        content_type.remove_suffix(1);
    return content_type;
}

// "/v1/uploads/{id}/parts": `pattern` with "*" standing for exactly one non-empty segment.
bool matches_with_one_id(std::string_view path, std::string_view pattern) {
    const auto star = pattern.find('*');
    if (star == std::string_view::npos) return path == pattern;
    const std::string_view prefix = pattern.substr(0, star);
    const std::string_view suffix = pattern.substr(star + 1);
    if (path.size() <= prefix.size() + suffix.size()) return false;
    if (path.substr(0, prefix.size()) != prefix ||
        path.substr(path.size() - suffix.size()) != suffix)
        return false;
    const std::string_view id =
        path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    return id.find('/') == std::string_view::npos;
}

}  // namespace

bool is_upload_endpoint(std::string_view path) {
    static constexpr std::array<std::string_view, 8> kUploadEndpoints = {
        "/v1/files",
        "/v1/uploads/*/parts",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
        "/v1/images/edits",
        "/v1/images/variations",
        "/v1/containers/*/files",
        "/v1/videos",
    };
    for (std::string_view pattern : kUploadEndpoints)
        if (matches_with_one_id(path, pattern)) return true;
    return false;
}

std::variant<AdmittedHead, ClientError> admit_request_head(RequestHeader& header,
                                                           std::string_view host, uint16_t port,
                                                           bool has_body) {
    if (!is_standard_method(header.method()))
        return ClientError{405, "invalid_request_error", "method_not_allowed",
                           "sluice forwards GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS only"};
    if (auto framing = validate_request_framing(header)) return *framing;

    auto canonical = canonicalize_target(header.target(), host, port);
    if (auto* problem = std::get_if<TargetProblem>(&canonical)) {
        if (*problem == TargetProblem::other_authority) return misdirected(host);
        return bad_request("non_canonical_target", std::string(to_string(*problem)));
    }
    const CanonicalTarget& target = std::get<CanonicalTarget>(canonical);

    const std::size_t hosts = header.count(http::field::host);
    if (hosts > 1) return bad_request("duplicate_host", "the request has more than one Host field");
    if (hosts == 1 && !authority_names_host(header[http::field::host], host, port))
        return misdirected(host);
    std::string host_value(host);
    if (port != 443) host_value += ":" + std::to_string(port);
    header.set(http::field::host, host_value);
    header.target(target.origin_form);

    AdmittedHead admitted;
    if (!has_body) return admitted;
    const bool multipart =
        ascii_iequals(media_type(header[http::field::content_type]), "multipart/form-data");
    if (multipart && header.method() == http::verb::post && is_upload_endpoint(target.path())) {
        admitted.body = BodyReading::streamed_upload;
        return admitted;
    }
    admitted.body = BodyReading::whole;
    const std::string_view encoding = header[http::field::content_encoding];
    admitted.body_encoded = !encoding.empty() && !ascii_iequals(encoding, "identity");
    return admitted;
}

}  // namespace sluice
