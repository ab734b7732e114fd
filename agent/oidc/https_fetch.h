// A small HTTPS GET for JWKS and OIDC discovery documents: certificate verified against the
// system store plus an optional CA bundle, host name checked, size- and time-bounded. It blocks
// the calling thread, so only the OIDC key refresher calls it, never a proxy worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice {

struct HttpsUrl {
    std::string host;  // without brackets for IPv6 literals
    uint16_t port = 443;
    std::string target = "/";  // path and query
};

// nullopt unless `url` is https://host[:port][/path]; no user info, no fragment.
std::optional<HttpsUrl> parse_https_url(std::string_view url);

struct HttpsFetchOptions {
    std::string ca_file;  // "" = system store only
    std::size_t max_body_bytes = 1024 * 1024;
    std::chrono::milliseconds deadline{10'000};
};

class HttpsFetchError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The body of a 200 response. Throws HttpsFetchError with one line naming the URL and the
// failing step (resolve, connect, TLS verification, status, size, deadline).
std::string https_get(const std::string& url, const HttpsFetchOptions& options);

// The seam tests and the authenticator use: same contract as https_get.
using HttpsGetter = std::function<std::string(const std::string& url, const HttpsFetchOptions&)>;

}  // namespace sluice
