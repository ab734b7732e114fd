#include "agent/proxy/request_target.h"

#include "policy/ascii_case.h"

namespace sluice {

namespace {

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 pchar without pct-encoded, and without ';': some servers cut a segment at ';'
// (matrix parameters), which would make "/v1/embeddings;x" their "/v1/embeddings".
bool is_path_char(char c) {
    if (is_alnum(c)) return true;
    switch (c) {
        case '-':
        case '.':
        case '_':
        case '~':
        case '!':
        case '$':
        case '&':
        case '\'':
        case '(':
        case ')':
        case '*':
        case '+':
        case ',':
        case '=':
        case ':':
        case '@':
            return true;
        default:
            return false;
    }
}

// RFC 3986 query characters, and '[' ']': SDKs write array parameters as "include[]=x".
bool is_query_char(char c) {
    return is_path_char(c) || c == ';' || c == '/' || c == '?' || c == '[' || c == ']';
}

std::optional<TargetProblem> check_path(std::string_view path) {
    if (path.empty() || path.front() != '/') return TargetProblem::not_origin_form;
    if (path == "/") return std::nullopt;
    std::size_t segment_start = 1;
    for (std::size_t i = 1; i <= path.size(); ++i) {
        if (i < path.size() && path[i] != '/') {
            if (path[i] == '%') return TargetProblem::percent_encoding;
            if (!is_path_char(path[i])) return TargetProblem::forbidden_character;
            continue;
        }
        const std::string_view segment = path.substr(segment_start, i - segment_start);
        if (segment.empty()) return TargetProblem::empty_segment;
        if (segment == "." || segment == "..") return TargetProblem::dot_segment;
        segment_start = i + 1;
    }
    return std::nullopt;
}

std::optional<TargetProblem> check_query(std::string_view query) {
    for (std::size_t i = 0; i < query.size(); ++i) {
        if (query[i] == '%') {
            if (i + 2 >= query.size() || !is_hex(query[i + 1]) || !is_hex(query[i + 2]))
                return TargetProblem::forbidden_character;
            i += 2;
        } else if (!is_query_char(query[i])) {
            return TargetProblem::forbidden_character;
        }
    }
    return std::nullopt;
}

bool starts_with_scheme(std::string_view target, std::string_view scheme) {
    return target.size() > scheme.size() && ascii_iequals(target.substr(0, scheme.size()), scheme);
}

}  // namespace

std::string_view to_string(TargetProblem problem) {
    switch (problem) {
        case TargetProblem::empty:
            return "the request target is empty";
        case TargetProblem::not_origin_form:
            return "the request target must be a path starting with '/'";
        case TargetProblem::other_authority:
            return "the request names a host other than the one connected to";
        case TargetProblem::fragment:
            return "the request target carries a fragment ('#')";
        case TargetProblem::forbidden_character:
            return "the request target holds a character outside RFC 3986 paths and queries";
        case TargetProblem::percent_encoding:
            return "the request path is percent-encoded";
        case TargetProblem::empty_segment:
            return "the request path has an empty segment ('//' or a trailing '/')";
        case TargetProblem::dot_segment:
            return "the request path has a '.' or '..' segment";
    }
    return "the request target is not in canonical form";
}

std::string canonical_host_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::string out(name);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool authority_names_host(std::string_view authority, std::string_view host, uint16_t port) {
    std::string_view name = authority;
    if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        name = authority.substr(0, colon);
        const std::string_view digits = authority.substr(colon + 1);
        if (digits.empty() || digits.size() > 5) return false;
        unsigned value = 0;
        for (char c : digits) {
            if (c < '0' || c > '9') return false;
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        if (value != port) return false;
    }
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    return !name.empty() && ascii_iequals(name, host);
}

std::variant<CanonicalTarget, TargetProblem> canonicalize_target(std::string_view target,
                                                                 std::string_view host,
                                                                 uint16_t port) {
    if (target.empty()) return TargetProblem::empty;
    if (target.find('#') != std::string_view::npos) return TargetProblem::fragment;
    for (std::string_view scheme : {std::string_view("https://"), std::string_view("http://")}) {
        if (!starts_with_scheme(target, scheme)) continue;
        const std::string_view rest = target.substr(scheme.size());
        const std::size_t authority_end = rest.find_first_of("/?");
        const std::string_view authority = rest.substr(0, authority_end);
        if (authority.find('@') != std::string_view::npos ||
            !authority_names_host(authority, host, port))
            return TargetProblem::other_authority;
        target = authority_end == std::string_view::npos ? std::string_view()
                                                         : rest.substr(authority_end);
        if (target.empty() || target.front() == '?') {
            // "https://host" and "https://host?q" mean the root path (RFC 9112 §3.2.2).
            std::string origin = "/" + std::string(target);
            return canonicalize_target(origin, host, port);
        }
        break;
    }
    const std::size_t query_start = target.find('?');
    const std::string_view path = target.substr(0, query_start);
    if (auto problem = check_path(path)) return *problem;
    if (query_start != std::string_view::npos)
        if (auto problem = check_query(target.substr(query_start + 1))) return *problem;
    return CanonicalTarget{std::string(target), path.size()};
}

}  // namespace sluice
