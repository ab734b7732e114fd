// A tiny authoritative-looking DNS server on 127.0.0.1 UDP, for tests only. Answers come from a
// table the test fills; responses are built byte by byte (RFC 1035 §4.1), no compression
// except the pointer to the question name.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::testing {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeCname = 5;
constexpr uint16_t kTypeSoa = 6;
constexpr uint16_t kTypeAaaa = 28;

struct FakeRecord {
    std::string owner;
    uint16_t type = kTypeA;
    uint32_t ttl = 300;
    std::string data;  // IP text for A/AAAA, target name for CNAME
};

struct FakeResponse {
    FakeResponse(uint8_t rcode_in = 0, std::vector<FakeRecord> answers_in = {})
        : rcode(rcode_in), answers(std::move(answers_in)) {}

    uint8_t rcode = 0;
    std::vector<FakeRecord> answers;
    // For NODATA/NXDOMAIN: an SOA in the authority section (record TTL, MINIMUM field).
    std::optional<std::pair<uint32_t, uint32_t>> soa;
    bool drop = false;  // never answer (the client times out)
};

class FakeDnsServer {
public:
    FakeDnsServer() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("bind");
        }
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeDnsServer() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }

    uint16_t port() const { return port_; }

    // Names are matched case-insensitively, without the trailing dot.
    void set(const std::string& name, uint16_t qtype, FakeResponse response) {
        std::lock_guard lock(mu_);
        zone_[{lower(name), qtype}] = std::move(response);
    }
    int queries(const std::string& name, uint16_t qtype) {
        std::lock_guard lock(mu_);
        return counts_[{lower(name), qtype}];
    }

private:
    static std::string lower(std::string s) {
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }

    static void put16(std::vector<uint8_t>& out, uint16_t v) {
        out.push_back(static_cast<uint8_t>(v >> 8));
        out.push_back(static_cast<uint8_t>(v));
    }
    static void put32(std::vector<uint8_t>& out, uint32_t v) {
        put16(out, static_cast<uint16_t>(v >> 16));
        put16(out, static_cast<uint16_t>(v));
    }
    static void put_name(std::vector<uint8_t>& out, const std::string& name) {
        size_t pos = 0;
        while (pos < name.size()) {
            size_t dot = name.find('.', pos);
            if (dot == std::string::npos) dot = name.size();
            out.push_back(static_cast<uint8_t>(dot - pos));
            out.insert(out.end(), name.begin() + static_cast<long>(pos),
                       name.begin() + static_cast<long>(dot));
            pos = dot + 1;
        }
        out.push_back(0);
    }

    void serve() {
        while (!stop_) {
            pollfd pfd{fd_, POLLIN, 0};
            if (::poll(&pfd, 1, 50) <= 0) continue;
            uint8_t buf[512];
            sockaddr_in peer{};
            socklen_t peer_len = sizeof peer;
            const ssize_t n =
                ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &peer_len);
            if (n < 12) continue;
            // Question: labels from offset 12, then QTYPE and QCLASS.
            std::string qname;
            size_t pos = 12;
            while (pos < static_cast<size_t>(n) && buf[pos] != 0) {
                const size_t len = buf[pos];
                if (!qname.empty()) qname += '.';
                qname.append(reinterpret_cast<const char*>(buf + pos + 1), len);
                pos += len + 1;
            }
            if (pos + 5 > static_cast<size_t>(n)) continue;
            const size_t question_end = pos + 5;
            const uint16_t qtype = static_cast<uint16_t>(buf[pos + 1] << 8 | buf[pos + 2]);

            FakeResponse response;
            {
                std::lock_guard lock(mu_);
                ++counts_[{lower(qname), qtype}];
                auto it = zone_.find({lower(qname), qtype});
                if (it == zone_.end()) {
                    response.rcode = 3;  // NXDOMAIN
                } else {
                    response = it->second;
                }
            }
            if (response.drop) continue;

            std::vector<uint8_t> out;
            put16(out, static_cast<uint16_t>(buf[0] << 8 | buf[1]));  // same id
            // QR=1, opcode 0, AA=1, RD copied; RA=1, rcode.
            out.push_back(static_cast<uint8_t>(0x84 | (buf[2] & 0x01)));
            out.push_back(static_cast<uint8_t>(0x80 | (response.rcode & 0x0f)));
            put16(out, 1);
            put16(out, static_cast<uint16_t>(response.answers.size()));
            put16(out, response.soa ? 1 : 0);
            put16(out, 0);
            out.insert(out.end(), buf + 12, buf + question_end);
            for (const FakeRecord& r : response.answers) {
                if (lower(r.owner) == lower(qname)) {
                    put16(out, 0xc00c);  // pointer to the question name
                } else {
                    put_name(out, r.owner);
                }
                put16(out, r.type);
                put16(out, 1);  // IN
                put32(out, r.ttl);
                std::vector<uint8_t> rdata;
                if (r.type == kTypeA) {
                    rdata.resize(4);
                    inet_pton(AF_INET, r.data.c_str(), rdata.data());
                } else if (r.type == kTypeAaaa) {
                    rdata.resize(16);
                    inet_pton(AF_INET6, r.data.c_str(), rdata.data());
                } else {
                    put_name(rdata, r.data);
                }
                put16(out, static_cast<uint16_t>(rdata.size()));
                out.insert(out.end(), rdata.begin(), rdata.end());
            }
            if (response.soa) {
                put16(out, 0xc00c);
                put16(out, kTypeSoa);
                put16(out, 1);
                put32(out, response.soa->first);
                std::vector<uint8_t> rdata;
                put_name(rdata, "ns.example");
                put_name(rdata, "hostmaster.example");
                for (uint32_t v : {1u, 3600u, 600u, 86400u}) put32(rdata, v);
                put32(rdata, response.soa->second);
                put16(out, static_cast<uint16_t>(rdata.size()));
                out.insert(out.end(), rdata.begin(), rdata.end());
            }
            ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_len);
        }
    }

    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::map<std::pair<std::string, uint16_t>, FakeResponse> zone_;
    std::map<std::pair<std::string, uint16_t>, int> counts_;
    std::thread thread_;
};

}  // namespace sluice::testing
