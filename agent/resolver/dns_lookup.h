// A/AAAA lookups that keep the records' TTLs (getaddrinfo drops them), through glibc's
// libresolv: res_nmkquery + res_nsend, parsed with ns_initparse/ns_parserr. CNAME chains are
// followed, also across queries when a server answers with the alias only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/resolver/resolved_target.h"

namespace sluice {

enum class AddressFamily : uint8_t { ipv4, ipv6 };

struct DnsRecord {
    IpAddress addr{};    // v4-mapped for A records
    uint32_t ttl_s = 0;  // already the minimum over the CNAME chain that led here
};

enum class DnsStatus : uint8_t {
    ok,        // records may be empty: the name exists but has no records of this type
    nxdomain,  // the name does not exist
    failure,   // no usable answer (timeout, SERVFAIL, malformed, CNAME loop)
};

struct DnsAnswer {
    DnsStatus status = DnsStatus::failure;
    std::vector<DnsRecord> records;
    uint32_t negative_ttl_s = 0;  // for ok-without-records: from the SOA (RFC 2308), 0 if none
    std::string error;            // for failure/nxdomain: one line for the log
};

struct DnsServerAddress {
    std::string ip = "127.0.0.1";  // IPv4 only: res_state's nsaddr_list holds sockaddr_in
    uint16_t port = 53;
};

struct DnsLookupOptions {
    // Replaces /etc/resolv.conf's nameservers (tests run their own server on loopback).
    std::optional<DnsServerAddress> nameserver;
    int timeout_s = 2;  // per try (res_state.retrans)
    int attempts = 2;   // tries per nameserver (res_state.retry)
};

// Blocking; the calling thread waits at most about timeout_s * attempts per nameserver per
// CNAME hop. Thread-safe (each call has its own res_state).
DnsAnswer lookup_addresses(const std::string& host, AddressFamily family,
                           const DnsLookupOptions& options = {});

// Addresses /etc/hosts gives `host` (case-insensitive, aliases included), in file order.
// Clients resolve through NSS, which reads this file before DNS: an entry here that sluice
// ignored would be a way around interception.
std::vector<IpAddress> parse_hosts_file(std::string_view text, std::string_view host);

// One parsed response, before any follow-up query. Exposed for tests.
struct ParsedDnsResponse {
    DnsAnswer answer;
    // Set when the chain from the question name ended at an alias whose records the response
    // did not include; the caller asks again for this name.
    std::string cname_target;
    uint32_t cname_chain_ttl_s = 0;  // minimum TTL over the CNAMEs followed
};
ParsedDnsResponse parse_dns_response(const uint8_t* message, size_t length, std::string_view qname,
                                     AddressFamily family);

}  // namespace sluice
