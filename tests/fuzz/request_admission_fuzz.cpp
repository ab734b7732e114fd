// agent/proxy request admission: whatever request head a client sends, an admitted request is
// forwarded as the canonical head the policy decided on. Properties, for any input Beast parses:
//   - the admitted target is in canonical origin form (canonicalizing it again changes nothing,
//     no empty or dot segment, no percent-encoding in the path, no fragment);
//   - there is exactly one Host and it is the intercepted host;
//   - the head as sent upstream (after the credential swap, written as text), parsed again by
//     Beast, has the same method, target and framing, exactly one Host, exactly one credential
//     (the real key) and no client key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "agent/proxy/header_text.h"
#include "agent/proxy/request_admission.h"
#include "agent/proxy/request_target.h"
#include "fuzz_support.h"

using namespace sluice;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kHost = "api.openai.com";
constexpr std::string_view kRealKey = "sk-real-key";

bool parse_head(std::string_view text, http::request_parser<http::empty_body>& parser) {
    parser.eager(false);
    parser.header_limit(64 * 1024);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(text.data(), text.size()), ec);
    return !ec && parser.is_header_done();
}

void check_canonical_target(std::string_view target) {
    auto again = canonicalize_target(target, kHost, 443);
    fuzz::require(std::holds_alternative<CanonicalTarget>(again));
    fuzz::require(std::get<CanonicalTarget>(again).origin_form == target);
    const std::string_view path = target.substr(0, target.find('?'));
    fuzz::require(!path.empty() && path.front() == '/');
    fuzz::require(path.find('%') == std::string_view::npos);
    fuzz::require(path.find("//") == std::string_view::npos);
    fuzz::require(path.find("/./") == std::string_view::npos &&
                  path.find("/../") == std::string_view::npos);
    fuzz::require(!path.ends_with("/.") && !path.ends_with("/.."));
    fuzz::require(target.find('#') == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    http::request_parser<http::empty_body> parser;
    if (!parse_head(text, parser)) return 0;
    RequestHeader header = parser.get().base();
    const bool has_body =
        parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
    auto admitted = admit_request_head(header, kHost, 443, has_body);
    if (!std::holds_alternative<AdmittedHead>(admitted)) return 0;

    check_canonical_target(header.target());
    fuzz::require(header.count(http::field::host) == 1);
    fuzz::require(header[http::field::host] == kHost);

    prepare_upstream_request(header, kRealKey);
    std::string forwarded;
    append_header_text(forwarded, header);
    http::request_parser<http::empty_body> reparsed;
    fuzz::require(parse_head(forwarded, reparsed));
    const RequestHeader& sent = reparsed.get().base();
    fuzz::require(sent.method() == header.method() && sent.method() != http::verb::unknown);
    fuzz::require(sent.target() == header.target());
    fuzz::require(sent.count(http::field::host) == 1 && sent[http::field::host] == kHost);
    fuzz::require(sent.count(http::field::authorization) == 1);
    fuzz::require(sent[http::field::authorization] == "Bearer " + std::string(kRealKey));
    fuzz::require(sent.count("api-key") == 0);
    fuzz::require(reparsed.chunked() == parser.chunked());
    fuzz::require(reparsed.content_length() == parser.content_length());
    return 0;
}
