// The endpoint an API request path names, as every control reads it: the query string does
// not change the endpoint, and a trailing '/' routes to the same one upstream.
#pragma once

#include <string_view>

namespace sluice {

inline std::string_view path_without_query(std::string_view path) {
    if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    return path;
}

// "/v1/responses/?x=1" → "/v1/responses"; "/" stays "/". Case is kept (callers that must
// match an upstream's case-insensitive routing lower it).
inline std::string_view api_endpoint(std::string_view path) {
    path = path_without_query(path);
    while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    return path;
}

}  // namespace sluice
