#include "agent/audit_shipping/audit_shipper.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

namespace sluice {

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
constexpr std::size_t kMaxBatchBytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds kDrainAtStop{3};

}  // namespace

struct AuditShipper::Lane {
    ShipDestination destination;
    AuditSpool spool;
    mutable std::mutex mutex;
    std::condition_variable wake;
    bool spool_failing = false;
    uint64_t delivered = 0;
    uint64_t dropped = 0;
    uint64_t dropped_unreported = 0;
    bool connected = false;
    std::string last_error;
    std::thread thread;

    Lane(ShipDestination d, const AuditShipperOptions& options)
        : destination(std::move(d)),
          spool(options.spool_dir, destination.name, options.spool_max_bytes) {}
};

AuditShipper::AuditShipper(AuditShipperOptions options, std::vector<ShipDestination> destinations)
    : options_(std::move(options)) {
    for (auto& d : destinations) lanes_.push_back(std::make_unique<Lane>(std::move(d), options_));
    update_health();
}

AuditShipper::~AuditShipper() { stop(); }

void AuditShipper::start() {
    for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { run(*l); });
}

void AuditShipper::stop() {
    stopping_.store(true);
    for (auto& lane : lanes_) {
        { std::lock_guard lock(lane->mutex); }
        lane->wake.notify_all();
        if (lane->thread.joinable()) lane->thread.join();
    }
}

void AuditShipper::ship(std::string_view lines) {
    if (lines.empty()) return;
    for (auto& lane : lanes_) {
        std::lock_guard lock(lane->mutex);
        std::string error;
        const bool appended = lane->spool.append(lines, error);
        if (!appended && !lane->spool_failing)
            spdlog::error("audit shipping {}: cannot spool: {}", lane->destination.name, error);
        lane->spool_failing = !appended;
        if (!options_.fail_closed) {
            const uint64_t dropped = lane->spool.drop_oldest_beyond_bound();
            lane->dropped += dropped;
            lane->dropped_unreported += dropped;
            if (!appended) {
                const auto count =
                    static_cast<uint64_t>(std::count(lines.begin(), lines.end(), '\n'));
                lane->dropped += count;
                lane->dropped_unreported += count;
            }
        }
        lane->wake.notify_one();
    }
    update_health();
}

void AuditShipper::update_health() {
    bool healthy = true;
    if (options_.fail_closed) {
        for (auto& lane : lanes_) {
            std::lock_guard lock(lane->mutex);
            if (lane->spool_failing || lane->spool.over_bound()) healthy = false;
        }
    }
    if (healthy == healthy_.exchange(healthy)) return;
    if (healthy)
        spdlog::info("audit shipping: spool back within its bound; serving again");
    else
        spdlog::error(
            "audit shipping: spool past its bound with failure_mode closed; refusing requests "
            "until the collector takes it");
}

void AuditShipper::run(Lane& lane) {
    std::chrono::milliseconds backoff = kFirstBackoff;
    std::string reported;
    std::optional<std::chrono::steady_clock::time_point> drain_until;
    for (;;) {
        // At stop, what the last records (the shutdown checkpoint) left in the spool is sent
        // while the collector takes it, for a few seconds at most; the rest waits on disk for
        // the next start.
        if (stopping_.load()) {
            if (!drain_until) drain_until = std::chrono::steady_clock::now() + kDrainAtStop;
            if (std::chrono::steady_clock::now() >= *drain_until) return;
        }
        std::vector<std::string> batch;
        uint64_t start = 0, generation = 0;
        {
            std::unique_lock lock(lane.mutex);
            batch = lane.spool.peek(options_.batch_records, kMaxBatchBytes);
            if (batch.empty()) {
                if (stopping_.load()) return;
                lane.wake.wait_for(lock, std::chrono::seconds(1));
                continue;
            }
            start = lane.spool.offset();
            generation = lane.spool.generation();
        }
        std::string error;
        const bool sent = lane.destination.sender->send(batch, error);
        uint64_t bytes = 0;
        for (const auto& line : batch) bytes += line.size();
        {
            std::unique_lock lock(lane.mutex);
            lane.connected = sent;
            if (sent) {
                lane.spool.commit_to(generation, start + bytes);
                lane.delivered += batch.size();
                lane.last_error.clear();
            } else {
                lane.last_error = error;
            }
        }
        if (sent) {
            backoff = kFirstBackoff;
            if (!reported.empty())
                spdlog::info("audit shipping {}: delivering again", lane.destination.name);
            reported.clear();
            update_health();
            continue;
        }
        if (stopping_.load()) return;
        if (error != reported) {
            spdlog::warn("audit shipping {} to {}: {}; retrying with backoff",
                         lane.destination.name, lane.destination.url, error);
            reported = error;
        }
        std::unique_lock lock(lane.mutex);
        lane.wake.wait_for(lock, backoff, [&] { return stopping_.load(); });
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

std::vector<std::pair<std::string, uint64_t>> AuditShipper::take_dropped() {
    std::vector<std::pair<std::string, uint64_t>> out;
    for (auto& lane : lanes_) {
        std::lock_guard lock(lane->mutex);
        if (lane->dropped_unreported)
            out.emplace_back(lane->destination.name, lane->dropped_unreported);
        lane->dropped_unreported = 0;
    }
    return out;
}

uint64_t AuditShipper::pending_bytes() const {
    uint64_t total = 0;
    for (const auto& lane : lanes_) {
        std::lock_guard lock(lane->mutex);
        total += lane->spool.pending_bytes();
    }
    return total;
}

nlohmann::json AuditShipper::status_json() const {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& lane : lanes_) {
        std::lock_guard lock(lane->mutex);
        out[lane->destination.name] = {
            {"url", lane->destination.url}, {"delivering", lane->connected},
            {"delivered", lane->delivered}, {"spooled_bytes", lane->spool.pending_bytes()},
            {"dropped", lane->dropped},     {"last_error", lane->last_error}};
    }
    return out;
}

}  // namespace sluice
