#include "agent/resolver/dns_lookup.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <memory>

namespace sluice {
namespace {

// Longest CNAME chain followed, counting hops inside one response and across follow-up
// queries together; real chains (CDNs) are 2-3 long, loops are infinite.
constexpr int kMaxCnameHops = 8;
// UDP answers without EDNS fit 512 bytes; a TCP retry after truncation may be larger.
constexpr size_t kMaxDnsMessageBytes = 64 * 1024;

// glibc also declares a function named __res_state, hence the elaborated type.
using ResState = struct __res_state;

std::string lower_name(std::string_view name) {
    std::string out(name);
    while (!out.empty() && out.back() == '.') out.pop_back();
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

DnsAnswer failed(DnsStatus status, std::string error) {
    DnsAnswer a;
    a.status = status;
    a.error = std::move(error);
    return a;
}

// RFC 2308 §5: the negative TTL is the smaller of the SOA record's TTL and its MINIMUM field.
uint32_t negative_ttl_from_soa(ns_msg& msg) {
    const int count = ns_msg_count(msg, ns_s_ns);
    for (int i = 0; i < count; ++i) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_ns, i, &rr) != 0 || ns_rr_type(rr) != ns_t_soa) continue;
        const uint8_t* p = ns_rr_rdata(rr);
        const uint8_t* end = p + ns_rr_rdlen(rr);
        for (int name = 0; name < 2; ++name) {  // MNAME, RNAME
            const int n = dn_skipname(p, end);
            if (n < 0) return 0;
            p += n;
        }
        if (end - p < 20) return 0;  // SERIAL REFRESH RETRY EXPIRE MINIMUM
        const uint32_t minimum = ns_get32(p + 16);
        return std::min(minimum, static_cast<uint32_t>(ns_rr_ttl(rr)));
    }
    return 0;
}

}  // namespace

ParsedDnsResponse parse_dns_response(const uint8_t* message, size_t length, std::string_view qname,
                                     AddressFamily family) {
    ParsedDnsResponse out;
    ns_msg msg;
    if (length > static_cast<size_t>(std::numeric_limits<int>::max()) ||
        ns_initparse(message, static_cast<int>(length), &msg) != 0) {
        out.answer = failed(DnsStatus::failure, "malformed DNS response");
        return out;
    }
    const int rcode = static_cast<int>(ns_msg_getflag(msg, ns_f_rcode));
    if (rcode == ns_r_nxdomain) {
        out.answer = failed(DnsStatus::nxdomain, "NXDOMAIN");
        return out;
    }
    if (rcode != ns_r_noerror) {
        out.answer = failed(DnsStatus::failure, "DNS rcode " + std::to_string(rcode));
        return out;
    }
    if (ns_msg_getflag(msg, ns_f_tc) != 0) {
        // res_nsend retries truncated answers over TCP; a truncated one here is unusable.
        out.answer = failed(DnsStatus::failure, "truncated DNS response");
        return out;
    }

    const ns_type want = family == AddressFamily::ipv4 ? ns_t_a : ns_t_aaaa;
    const size_t want_len = family == AddressFamily::ipv4 ? 4 : 16;
    std::map<std::string, std::pair<std::string, uint32_t>> cnames;  // owner -> (target, ttl)
    std::map<std::string, std::vector<DnsRecord>> addresses;         // owner -> records

    const int count = ns_msg_count(msg, ns_s_an);
    for (int i = 0; i < count; ++i) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) {
            out.answer = failed(DnsStatus::failure, "malformed answer record");
            return out;
        }
        if (ns_rr_class(rr) != ns_c_in) continue;
        const std::string owner = lower_name(ns_rr_name(rr));
        const uint32_t ttl = static_cast<uint32_t>(ns_rr_ttl(rr));
        if (ns_rr_type(rr) == ns_t_cname) {
            char target[NS_MAXDNAME];
            if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr), target,
                          sizeof target) < 0) {
                out.answer = failed(DnsStatus::failure, "malformed CNAME record");
                return out;
            }
            cnames[owner] = {lower_name(target), ttl};
        } else if (ns_rr_type(rr) == want && ns_rr_rdlen(rr) == want_len) {
            DnsRecord record;
            if (family == AddressFamily::ipv4) {
                std::array<uint8_t, 4> v4{};
                std::memcpy(v4.data(), ns_rr_rdata(rr), 4);
                record.addr = v4_mapped(v4);
            } else {
                std::memcpy(record.addr.data(), ns_rr_rdata(rr), 16);
            }
            record.ttl_s = ttl;
            addresses[owner].push_back(record);
        }
        // Anything else (RRSIG, DNAME, records for unrelated owners) is ignored: only the
        // chain from the question name counts, so a server cannot slip in extra addresses.
    }

    std::string name = lower_name(qname);
    uint32_t chain_ttl = std::numeric_limits<uint32_t>::max();
    bool followed = false;
    for (int hop = 0; hop <= kMaxCnameHops; ++hop) {
        if (auto it = addresses.find(name); it != addresses.end()) {
            out.answer.status = DnsStatus::ok;
            for (DnsRecord r : it->second) {
                r.ttl_s = std::min(r.ttl_s, chain_ttl);
                out.answer.records.push_back(r);
            }
            return out;
        }
        auto cn = cnames.find(name);
        if (cn == cnames.end()) break;
        name = cn->second.first;
        chain_ttl = std::min(chain_ttl, cn->second.second);
        followed = true;
    }
    if (followed && cnames.count(name) != 0) {
        out.answer = failed(DnsStatus::failure, "CNAME chain too long or looping");
        return out;
    }
    if (followed) {
        out.cname_target = name;
        out.cname_chain_ttl_s = chain_ttl;
    }
    // NOERROR without records of this type (NODATA), or an alias to chase further.
    out.answer.status = DnsStatus::ok;
    out.answer.negative_ttl_s = negative_ttl_from_soa(msg);
    return out;
}

std::vector<IpAddress> parse_hosts_file(std::string_view text, std::string_view host) {
    const std::string want = lower_name(host);
    std::vector<IpAddress> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
            line = line.substr(0, hash);
        }
        // Fields: address, canonical name, aliases; separated by blanks.
        std::vector<std::string_view> fields;
        size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
            const size_t start = i;
            while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
            if (i > start) fields.push_back(line.substr(start, i - start));
        }
        if (fields.size() < 2) continue;
        const auto addr = parse_ip_address(fields[0]);
        if (!addr) continue;
        for (size_t f = 1; f < fields.size(); ++f) {
            if (lower_name(fields[f]) == want) {
                if (std::find(out.begin(), out.end(), *addr) == out.end()) out.push_back(*addr);
                break;
            }
        }
    }
    return out;
}

DnsAnswer lookup_addresses(const std::string& host, AddressFamily family,
                           const DnsLookupOptions& options) {
    struct ResStateDeleter {
        void operator()(res_state s) const {
            res_nclose(s);
            delete s;
        }
    };
    std::unique_ptr<ResState, ResStateDeleter> state(new ResState{});
    if (res_ninit(state.get()) != 0) return failed(DnsStatus::failure, "res_ninit failed");
    state->retrans = std::max(1, options.timeout_s);
    state->retry = std::max(1, options.attempts);
    if (options.nameserver) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(options.nameserver->port);
        if (inet_pton(AF_INET, options.nameserver->ip.c_str(), &sin.sin_addr) != 1) {
            return failed(DnsStatus::failure, "nameserver override is not an IPv4 address");
        }
        // glibc's get_nsaddr() prefers nsaddr_list[n] whenever its family is set, so this
        // also shadows an IPv6 server from resolv.conf held in _u._ext.
        state->nsaddr_list[0] = sin;
        state->nscount = 1;
    }

    const ns_type type = family == AddressFamily::ipv4 ? ns_t_a : ns_t_aaaa;
    std::string name = host;
    uint32_t chain_ttl = std::numeric_limits<uint32_t>::max();
    std::vector<uint8_t> query(NS_PACKETSZ + NS_MAXDNAME);
    std::vector<uint8_t> response(kMaxDnsMessageBytes);
    for (int hop = 0; hop <= kMaxCnameHops; ++hop) {
        const int qlen = res_nmkquery(state.get(), ns_o_query, name.c_str(), ns_c_in, type, nullptr,
                                      0, nullptr, query.data(), static_cast<int>(query.size()));
        if (qlen < 0) return failed(DnsStatus::failure, "cannot build a query for '" + name + "'");
        const int rlen = res_nsend(state.get(), query.data(), qlen, response.data(),
                                   static_cast<int>(response.size()));
        if (rlen < 0) return failed(DnsStatus::failure, "no answer from nameserver");
        ParsedDnsResponse parsed =
            parse_dns_response(response.data(), static_cast<size_t>(rlen), name, family);
        if (parsed.answer.status == DnsStatus::ok) {
            for (DnsRecord& r : parsed.answer.records) r.ttl_s = std::min(r.ttl_s, chain_ttl);
        }
        if (parsed.cname_target.empty()) return std::move(parsed.answer);
        chain_ttl = std::min(chain_ttl, parsed.cname_chain_ttl_s);
        name = std::move(parsed.cname_target);
    }
    return failed(DnsStatus::failure, "CNAME chain too long or looping");
}

}  // namespace sluice
