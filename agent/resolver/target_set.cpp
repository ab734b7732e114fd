#include "agent/resolver/target_set.h"

#include <algorithm>

namespace sluice {

TargetSet::TargetSet(TargetSetOptions options) : options_(options) {}

TargetSet::FamilyState& TargetSet::state(AddressFamily family) {
    return family == AddressFamily::ipv4 ? v4_ : v6_;
}

const TargetSet::FamilyState& TargetSet::state(AddressFamily family) const {
    return family == AddressFamily::ipv4 ? v4_ : v6_;
}

std::chrono::seconds TargetSet::clamp_ttl(uint32_t ttl_s) const {
    return std::clamp(std::chrono::seconds(ttl_s), options_.min_ttl, options_.max_ttl);
}

void TargetSet::apply(AddressFamily family, const DnsAnswer& answer, TimePoint now) {
    FamilyState& fs = state(family);
    if (answer.status == DnsStatus::ok) {
        apply_success(fs, answer, now);
    } else {
        apply_failure(fs, now);
    }
}

void TargetSet::apply_success(FamilyState& fs, const DnsAnswer& answer, TimePoint now) {
    fs.failures = 0;
    std::map<IpAddress, TimePoint> fresh;
    for (const DnsRecord& r : answer.records) {
        const TimePoint expires = now + clamp_ttl(r.ttl_s);
        auto [it, inserted] = fresh.emplace(r.addr, expires);
        if (!inserted) it->second = std::max(it->second, expires);
    }

    // Addresses that dropped out start (or continue) their grace period.
    for (auto it = fs.entries.begin(); it != fs.entries.end();) {
        Entry& e = it->second;
        if (fresh.count(it->first) == 0) {
            if (!e.superseded) {
                e.superseded = true;
                e.expires = std::max(e.expires, now + options_.grace);
            }
            if (e.expires <= now) {
                it = fs.entries.erase(it);
                continue;
            }
        }
        ++it;
    }
    for (const auto& [addr, expires] : fresh) fs.entries[addr] = Entry{expires, false};

    if (fresh.empty()) {
        // NODATA: ask again after the negative TTL the zone gave (or the minimum).
        fs.refresh_at = now + clamp_ttl(answer.negative_ttl_s);
    } else {
        TimePoint earliest = TimePoint::max();
        for (const auto& [addr, expires] : fresh) earliest = std::min(earliest, expires);
        fs.refresh_at = earliest;
    }
}

void TargetSet::apply_failure(FamilyState& fs, TimePoint now) {
    ++fs.failures;
    auto backoff = options_.initial_backoff;
    for (unsigned i = 1; i < fs.failures && backoff < options_.max_backoff; ++i) backoff *= 2;
    backoff = std::min(backoff, options_.max_backoff);
    fs.refresh_at = now + backoff;
    // The last good answer stands; its addresses are held at least until the next attempt.
    for (auto& [addr, e] : fs.entries) {
        if (!e.superseded) e.expires = std::max(e.expires, fs.refresh_at);
    }
}

std::vector<TargetSet::TrackedAddress> TargetSet::current(TimePoint now) const {
    std::vector<TrackedAddress> out;
    for (const FamilyState* fs : {&v4_, &v6_}) {
        for (const auto& [addr, e] : fs->entries) {
            // Active addresses never lapse on time alone: only a newer answer replaces them.
            if (e.superseded && e.expires <= now) continue;
            out.push_back(TrackedAddress{addr, e.expires, e.superseded});
        }
    }
    std::sort(out.begin(), out.end(),
              [](const TrackedAddress& a, const TrackedAddress& b) { return a.addr < b.addr; });
    return out;
}

TargetSet::TimePoint TargetSet::next_refresh(AddressFamily family) const {
    return state(family).refresh_at;
}

unsigned TargetSet::consecutive_failures(AddressFamily family) const {
    return state(family).failures;
}

}  // namespace sluice
