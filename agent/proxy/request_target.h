// The request-target a policy decides on and the upstream receives: one canonical origin form.
//
// Policy matches endpoints on the path, and an upstream that normalizes differently from the
// policy (dot segments, doubled slashes, percent-decoding, an absolute URI naming another
// authority) would route a request the policy never saw. So targets that are not already in
// the canonical form are refused rather than normalized: no client of the API needs them, and
// refusing leaves nothing for two normalizers to disagree about (docs/policy.md, "Request
// targets"). Pure: no sockets, no allocation beyond the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sluice {

// Why a target was refused; to_string() gives the sentence for the client and the audit.
enum class TargetProblem {
    empty,
    not_origin_form,      // asterisk or authority form, or not starting with '/'
    other_authority,      // absolute form naming a host other than the intercepted one
    fragment,             // '#': never sent by a client, ambiguous to servers
    forbidden_character,  // outside RFC 3986 pchar / query characters, or ';'
    percent_encoding,     // any %XX in the path: decoding is where normalizers disagree
    empty_segment,        // "//" or a trailing '/'
    dot_segment,          // "." or ".." as a segment
};

std::string_view to_string(TargetProblem problem);

struct CanonicalTarget {
    std::string origin_form;      // path and query, e.g. "/v1/chat/completions?x=1"
    std::size_t path_length = 0;  // origin_form.substr(0, path_length) is the path

    std::string_view path() const { return std::string_view(origin_form).substr(0, path_length); }
};

// `host` and `port`: the intercepted authority (SNI), which is the only one an absolute-form
// target may name (in any case, with an optional trailing dot and an optional :port).
std::variant<CanonicalTarget, TargetProblem> canonicalize_target(std::string_view target,
                                                                 std::string_view host,
                                                                 uint16_t port);

// True when `authority` (a Host field value or the authority of an absolute-form target)
// names `host` on `port`: the same name ignoring case and one trailing dot, and either no
// port or that port.
bool authority_names_host(std::string_view authority, std::string_view host, uint16_t port);

// A DNS name in the one form every lookup uses: lower case, without a trailing dot.
std::string canonical_host_name(std::string_view name);

}  // namespace sluice
