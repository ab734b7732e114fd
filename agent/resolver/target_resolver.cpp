#include "agent/resolver/target_resolver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <tuple>

namespace sluice {
namespace {

// The thread re-reads the clock at least this often, so a wall-clock jump delays a refresh by
// at most this much; and never spins faster than the floor when something is always due.
constexpr std::chrono::seconds kMaxSleep{30};
constexpr std::chrono::milliseconds kMinSleep{200};
// /etc/hosts is small; a huge one (ad-block lists run to a few MiB) is read up to this.
constexpr size_t kMaxHostsFileBytes = 16 * 1024 * 1024;

bool target_less(const ResolvedTarget& a, const ResolvedTarget& b) {
    return std::tie(a.host, a.port, a.addr) < std::tie(b.host, b.port, b.addr);
}

// on_change fires when membership changes, not when an expiry moves forward on refresh.
bool same_members(const std::vector<ResolvedTarget>& a, const std::vector<ResolvedTarget>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const ResolvedTarget& x, const ResolvedTarget& y) {
                          return x.host == y.host && x.port == y.port && x.addr == y.addr;
                      });
}

const char* family_name(AddressFamily f) { return f == AddressFamily::ipv4 ? "A" : "AAAA"; }

}  // namespace

TargetResolver::TargetResolver(const std::vector<InterceptTarget>& targets,
                               ChangeCallback on_change, TargetResolverOptions options)
    : on_change_(std::move(on_change)), options_(std::move(options)) {
    if (!options_.lookup) {
        options_.lookup = [dns = options_.dns](const std::string& host, AddressFamily family) {
            return lookup_addresses(host, family, dns);
        };
    }
    if (!options_.clock) options_.clock = &std::chrono::system_clock::now;

    for (const InterceptTarget& t : targets) {
        if (!t.addresses.empty()) {
            for (const std::string& text : t.addresses) {
                const auto addr = parse_ip_address(text);
                if (!addr) throw std::invalid_argument("not an IP address: " + text);
                fixed_.push_back(ResolvedTarget{t.host, *addr, t.port, 0});
            }
            continue;
        }
        auto it = std::find_if(hosts_.begin(), hosts_.end(),
                               [&](const DnsHost& h) { return h.name == t.host; });
        if (it == hosts_.end()) {
            hosts_.push_back(DnsHost{t.host, {}, TargetSet(options_.set), {}});
            it = std::prev(hosts_.end());
        }
        if (std::find(it->ports.begin(), it->ports.end(), t.port) == it->ports.end()) {
            it->ports.push_back(t.port);
        }
    }
}

TargetResolver::~TargetResolver() { stop(); }

std::vector<ResolvedTarget> TargetResolver::build(TimePoint now) const {
    std::vector<ResolvedTarget> out = fixed_;
    for (const DnsHost& h : hosts_) {
        for (const auto& tracked : h.set.current(now)) {
            const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                tracked.expires.time_since_epoch());
            // 0 means "fixed"; a resolved address always has a real, positive expiry.
            const uint64_t expires = std::max<int64_t>(1, secs.count());
            for (uint16_t port : h.ports)
                out.push_back(ResolvedTarget{h.name, tracked.addr, port, expires});
        }
        // Re-read every pass (at most kMaxSleep apart), so they hold until the next one.
        const auto hosts_expiry =
            std::chrono::duration_cast<std::chrono::seconds>((now + kMaxSleep).time_since_epoch());
        for (const IpAddress& addr : h.from_hosts_file) {
            for (uint16_t port : h.ports) {
                out.push_back(ResolvedTarget{h.name, addr, port,
                                             static_cast<uint64_t>(hosts_expiry.count())});
            }
        }
    }
    // Stable: for the same (host, port, address) the fixed entry comes first, then DNS's, then
    // the hosts file's; unique() keeps the first.
    std::stable_sort(out.begin(), out.end(), target_less);
    out.erase(std::unique(out.begin(), out.end(),
                          [](const ResolvedTarget& a, const ResolvedTarget& b) {
                              return a.host == b.host && a.port == b.port && a.addr == b.addr;
                          }),
              out.end());
    return out;
}

void TargetResolver::read_hosts_file() {
    if (options_.hosts_file.empty() || hosts_.empty()) return;
    std::ifstream in(options_.hosts_file, std::ios::binary);
    // Unreadable or missing: NSS would find nothing there either.
    std::string text;
    if (in) {
        text.resize(kMaxHostsFileBytes);
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<size_t>(in.gcount()));
    }
    for (DnsHost& h : hosts_) h.from_hosts_file = parse_hosts_file(text, h.name);
}

TargetResolver::TimePoint TargetResolver::refresh_due() {
    read_hosts_file();
    // Hosts-file entries must be re-read before they lapse, even when DNS is not due.
    TimePoint next = hosts_.empty() || options_.hosts_file.empty() ? TimePoint::max()
                                                                   : options_.clock() + kMaxSleep;
    for (DnsHost& h : hosts_) {
        for (AddressFamily family : {AddressFamily::ipv4, AddressFamily::ipv6}) {
            const TimePoint now = options_.clock();
            if (h.set.next_refresh(family) <= now) {
                const DnsAnswer answer = options_.lookup(h.name, family);
                const unsigned failures_before = h.set.consecutive_failures(family);
                h.set.apply(family, answer, options_.clock());
                if (answer.status != DnsStatus::ok && failures_before == 0) {
                    spdlog::warn(
                        "resolver: {} {} lookup failed ({}); keeping the last answer, "
                        "retrying with backoff",
                        h.name, family_name(family), answer.error);
                } else if (answer.status == DnsStatus::ok && failures_before > 0) {
                    spdlog::info("resolver: {} {} lookup works again after {} failures", h.name,
                                 family_name(family), failures_before);
                }
            }
            next = std::min(next, h.set.next_refresh(family));
        }
    }

    std::vector<ResolvedTarget> fresh = build(options_.clock());
    bool changed = false;
    {
        std::lock_guard lock(mu_);
        changed = !published_once_ || !same_members(fresh, published_);
        published_ = fresh;
        published_once_ = true;
    }
    if (changed) {
        spdlog::info("resolver: {} intercepted address:port pairs", fresh.size());
        for (const ResolvedTarget& t : fresh)
            spdlog::debug("resolver: target {}", format_target(t));
        if (on_change_) on_change_(fresh);
    }
    return next;
}

std::vector<ResolvedTarget> TargetResolver::snapshot() const {
    std::lock_guard lock(mu_);
    return published_;
}

std::optional<std::string> TargetResolver::host_for_address(const IpAddress& address) const {
    std::lock_guard lock(mu_);
    for (const auto& target : published_)
        if (target.addr == address) return target.host;
    return std::nullopt;
}

void TargetResolver::start() {
    refresh_due();
    if (hosts_.empty()) return;  // everything fixed: nothing to refresh
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void TargetResolver::stop() {
    if (thread_.joinable()) {
        thread_.request_stop();
        thread_.join();
    }
}

void TargetResolver::run(std::stop_token stop) {
    TimePoint next = TimePoint::min();
    while (!stop.stop_requested()) {
        const TimePoint now = options_.clock();
        if (next <= now) {
            next = refresh_due();
            continue;
        }
        const auto wait =
            std::clamp<std::chrono::system_clock::duration>(next - now, kMinSleep, kMaxSleep);
        std::unique_lock lock(wake_mu_);
        // Returns early when stop is requested; otherwise after `wait`.
        wake_.wait_for(lock, stop, wait, [] { return false; });
    }
}

}  // namespace sluice
