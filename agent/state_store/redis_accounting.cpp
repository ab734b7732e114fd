#include "agent/state_store/redis_accounting.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

namespace sluice {

namespace {

std::string random_instance_id() {
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

RedisEndpoint endpoint_of(const StateStoreConfig& config) {
    RedisEndpoint e;
    e.host = config.endpoint.host;
    e.port = config.endpoint.port;
    e.database = config.database;
    e.tls = config.tls;
    e.tls_ca_file = config.tls_ca_file;
    e.tls_server_name = config.tls_server_name;
    e.user = config.auth_user;
    e.password = read_redis_password(config.auth_password_file);
    return e;
}

// Tokens in the scripts' bucket units (1/60000 token), saturating.
int64_t bucket_units(int64_t tokens) {
    constexpr int64_t kMaxTokens = std::numeric_limits<int64_t>::max() / 60000;
    return std::clamp<int64_t>(tokens, 0, kMaxTokens) * 60000;
}

// A server that stops answering without closing the link is dropped after this.
std::chrono::milliseconds stall_timeout(const StateStoreConfig& config) {
    return std::max(std::chrono::milliseconds(1000),
                    std::chrono::milliseconds(20 * config.timeout_ms));
}

bool all_fail_open(const Admission& admission) {
    return std::all_of(admission.buckets.begin(), admission.buckets.end(),
                       [](const auto& b) { return b.fail_open; }) &&
           std::all_of(admission.accounts.begin(), admission.accounts.end(),
                       [](const auto& a) { return a.fail_open; });
}

// One request waiting for its admit reply, or given up on.
struct AdmitWait {
    std::mutex mutex;
    std::condition_variable done_cv;
    bool done = false;
    bool abandoned = false;
    bool ok = false;
    RedisReply reply;
    Admission admission;  // set when abandoned: what a late answer gives back
};

}  // namespace

std::string read_redis_password(const std::string& path) {
    if (path.empty()) return "";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error("state_store.auth.password_file " + path + ": cannot be read");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        throw std::runtime_error("state_store.auth.password_file " + path +
                                 ": others may read it; chmod 600 it");
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in)
        throw std::runtime_error("state_store.auth.password_file " + path + ": cannot be read");
    std::string password = text.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r'))
        password.pop_back();
    if (password.empty())
        throw std::runtime_error("state_store.auth.password_file " + path + ": is empty");
    return password;
}

RedisAccounting::RedisAccounting(const StateStoreConfig& config, PolicyState& local)
    : connection_(RedisConnection::on_own_thread(endpoint_of(config), stall_timeout(config))),
      local_(local),
      prefix_(config.prefix),
      timeout_(config.timeout_ms),
      endpoint_text_(config.redis),
      instance_(random_instance_id()) {
    connection_->on_connected([this] { replay_waiting(); });
}

void RedisAccounting::serve_on(const std::vector<boost::asio::io_context*>& loops) {
    const RedisEndpoint endpoint = connection_->endpoint();
    for (boost::asio::io_context* loop : loops) {
        auto lane = RedisConnection::on_loop(*loop, endpoint, connection_->stall_timeout());
        lane->start();
        lanes_.push_back(lane);
    }
}

RedisConnection* RedisAccounting::lane_here() const {
    for (const auto& weak : lanes_) {
        // Only the loop's own thread can be running in it, so the lane stays alive meanwhile.
        std::shared_ptr<RedisConnection> lane = weak.lock();
        if (lane && lane->loop().get_executor().running_in_this_thread()) return lane.get();
    }
    return nullptr;
}

RedisAccounting::~RedisAccounting() { stop(); }

void RedisAccounting::run_script(RedisConnection& connection, std::vector<std::string> command,
                                 RedisConnection::Callback done) {
    std::vector<std::string> retry = command;
    connection.send(std::move(command),
                    [&connection, retry = std::move(retry), done = std::move(done)](
                        bool ok, const RedisReply& reply) mutable {
                        if (ok && reply.is_error() && reply.text.starts_with("NOSCRIPT")) {
                            connection.send(as_eval(std::move(retry)), std::move(done));
                            return;
                        }
                        done(ok, reply);
                    });
}

AdmissionResult RedisAccounting::admit(const Admission& admission, TimePoint now) {
    if (!connection_->connected())
        return admit_locally(admission, now, "redis " + endpoint_text_ + " unreachable");

    uint64_t id = 0;
    {
        std::lock_guard lock(mutex_);
        id = next_id_++;
    }
    const std::string reservation_id = instance_ + ":" + std::to_string(id);
    SharedReservation reservation = shared_reservation(prefix_, admission, reservation_id);
    auto wait = std::make_shared<AdmitWait>();
    run_script(*connection_, admit_command(prefix_, admission, reservation_id, kReservationTtlMs),
               [this, wait, reservation](bool ok, const RedisReply& reply) {
                   std::unique_lock lock(wait->mutex);
                   if (wait->abandoned) {
                       lock.unlock();
                       give_back_late(ok, reply, wait->admission, reservation);
                       return;
                   }
                   wait->ok = ok;
                   wait->reply = reply;
                   wait->done = true;
                   wait->done_cv.notify_one();
               });
    {
        std::unique_lock lock(wait->mutex);
        if (!wait->done_cv.wait_for(lock, timeout_, [&] { return wait->done; })) {
            wait->admission = admission;
            wait->abandoned = true;
            lock.unlock();
            return admit_locally(admission, now,
                                 "redis " + endpoint_text_ + " did not answer within " +
                                     std::to_string(timeout_.count()) + " ms");
        }
    }
    return take_reply(wait->ok, wait->reply, admission, std::move(reservation), id, now);
}

void RedisAccounting::admit_later(const Admission& admission, TimePoint now, AdmitCallback done) {
    RedisConnection* lane = lane_here();
    if (lane == nullptr) {
        done(admit(admission, now));
        return;
    }
    if (!lane->connected()) {
        done(admit_locally(admission, now, "redis " + endpoint_text_ + " unreachable"));
        return;
    }
    uint64_t id = 0;
    {
        std::lock_guard lock(mutex_);
        id = next_id_++;
    }
    const std::string reservation_id = instance_ + ":" + std::to_string(id);
    // Everything below runs on this loop's thread: the reply and the deadline race without locks.
    struct LaterWait {
        explicit LaterWait(boost::asio::io_context& loop) : deadline(loop) {}
        boost::asio::steady_timer deadline;
        bool answered = false;
        Admission admission;
        AdmitCallback done;
    };
    auto wait = std::make_shared<LaterWait>(lane->loop());
    wait->admission = admission;
    wait->done = std::move(done);
    wait->deadline.expires_after(timeout_);
    wait->deadline.async_wait([this, wait, now](boost::system::error_code) {
        if (wait->answered) return;
        wait->answered = true;
        wait->done(admit_locally(wait->admission, now,
                                 "redis " + endpoint_text_ + " did not answer within " +
                                     std::to_string(timeout_.count()) + " ms"));
    });
    SharedReservation reservation = shared_reservation(prefix_, admission, reservation_id);
    std::vector<std::string> command =
        admit_command(prefix_, admission, reservation_id, kReservationTtlMs);
    run_script(
        *lane, std::move(command),
        [this, wait, id, now, reservation = std::move(reservation)](
            bool ok, const RedisReply& reply) mutable {
            if (wait->answered) {
                give_back_late(ok, reply, wait->admission, reservation);
                return;
            }
            wait->answered = true;
            wait->deadline.cancel();
            wait->done(take_reply(ok, reply, wait->admission, std::move(reservation), id, now));
        });
}

void RedisAccounting::give_back_late(bool ok, const RedisReply& reply, const Admission& admission,
                                     const SharedReservation& reservation) {
    if (ok && reply.type == RedisReply::Type::array && !reply.elements.empty() &&
        reply.elements[0].type == RedisReply::Type::integer && reply.elements[0].integer == 0)
        send_eventually(give_back_command(prefix_, admission, reservation));
}

AdmissionResult RedisAccounting::take_reply(bool ok, const RedisReply& reply,
                                            const Admission& admission,
                                            SharedReservation reservation, uint64_t id,
                                            TimePoint now) {
    if (!ok) return admit_locally(admission, now, "redis " + endpoint_text_ + " unreachable");
    AdmissionResult result = read_admit_reply(reply, admission);
    if (result.outcome == AdmissionResult::Outcome::unavailable)
        return admit_locally(admission, now, result.reason);
    shared_admissions_.fetch_add(1, std::memory_order_relaxed);
    if (result.outcome != AdmissionResult::Outcome::admitted) return result;
    if (reservation.accounts.empty() && reservation.token_buckets.empty()) return result;
    std::lock_guard lock(mutex_);
    Held held;
    held.reservation = std::move(reservation);
    held_.emplace(id, std::move(held));
    result.reservation_id = id;
    return result;
}

AdmissionResult RedisAccounting::admit_locally(const Admission& admission, TimePoint now,
                                               const std::string& why) {
    if (!all_fail_open(admission)) {
        refused_unavailable_.fetch_add(1, std::memory_order_relaxed);
        AdmissionResult refused;
        refused.outcome = AdmissionResult::Outcome::unavailable;
        refused.reason = "shared rate limits and budgets cannot be checked: " + why;
        return refused;
    }
    local_admissions_.fetch_add(1, std::memory_order_relaxed);
    AdmissionResult result = local_.admit(admission, now);
    std::string controls;
    if (!admission.buckets.empty()) controls = "rate_limit";
    if (!admission.accounts.empty()) controls += controls.empty() ? "budget" : "+budget";
    result.degraded = controls + " (" + why + "; accounted on this host)";
    if (result.outcome != AdmissionResult::Outcome::admitted) return result;
    // Requests buckets are owed now; tokens buckets once the request's usage is known.
    const auto taken_at = std::chrono::steady_clock::now();
    for (const auto& b : admission.buckets)
        if (!b.settle_with_usage)
            owe_bucket({prefix_ + b.key, b.per_minute, {bucket_units(b.amount), taken_at}});
    if (result.reservation_id == 0) return result;
    Held held;
    held.shared = false;
    held.local_id = result.reservation_id;
    held.price_pico = admission.price_pico;
    held.taken_at = taken_at;
    for (const auto& a : admission.accounts)
        held.local_accounts.push_back({a.key, a.today, a.amount});
    for (const auto& b : admission.buckets)
        if (b.settle_with_usage) held.local_token_buckets.push_back(b);
    std::lock_guard lock(mutex_);
    const uint64_t id = next_id_++;
    held_.emplace(id, std::move(held));
    result.reservation_id = id;
    return result;
}

void RedisAccounting::finish(uint64_t reservation_id, const std::optional<TokenUsage>& usage,
                             bool released, TimePoint now) {
    Held held;
    {
        std::lock_guard lock(mutex_);
        auto node = held_.extract(reservation_id);
        if (node.empty()) return;
        held = std::move(node.mapped());
    }
    if (held.shared) {
        send_eventually(settle_command(held.reservation, usage, released));
        return;
    }
    if (released) {
        local_.release(held.local_id, now);  // gives the tokens back: nothing is owed
        return;
    }
    local_.settle(held.local_id, usage, now);
    for (const auto& b : held.local_token_buckets)
        owe_bucket({prefix_ + b.key,
                    b.per_minute,
                    {bucket_units(usage ? usage->total() : b.amount), held.taken_at}});
    // What this host let through on its own is added to the shared account when Redis is back.
    for (const auto& a : held.local_accounts) {
        const BudgetAmount charge = charge_for(a.amount, held.price_pico, usage, false);
        send_eventually(add_usage_command(prefix_, a.key, a.day, charge));
    }
}

void RedisAccounting::settle(uint64_t reservation_id, const std::optional<TokenUsage>& usage,
                             TimePoint now) {
    finish(reservation_id, usage, false, now);
}

void RedisAccounting::release(uint64_t reservation_id, TimePoint now) {
    finish(reservation_id, std::nullopt, true, now);
}

void RedisAccounting::send_eventually(std::vector<std::string> command) {
    auto park = [this](std::vector<std::string> parked) {
        std::lock_guard lock(mutex_);
        if (waiting_.size() >= kMaxWaiting) {
            waiting_.pop_front();
            if (waiting_dropped_.fetch_add(1, std::memory_order_relaxed) == 0)
                spdlog::error(
                    "state_store: more than {} settlements wait for redis; dropping the oldest",
                    kMaxWaiting);
        }
        waiting_.push_back(std::move(parked));
    };
    if (!connection_->connected()) {
        park(std::move(command));
        return;
    }
    std::vector<std::string> copy = command;
    run_script(*connection_, std::move(command),
               [this, park, copy = std::move(copy)](bool ok, const RedisReply& reply) mutable {
                   if (!ok) {
                       park(std::move(copy));
                       return;
                   }
                   if (reply.is_error())
                       spdlog::error("state_store: redis refused a settlement: {}", reply.text);
               });
}

void RedisAccounting::owe_bucket(BucketDebt debt) {
    if (debt.use.units <= 0) return;
    if (connection_->connected()) {
        // Redis came back while the request ran: the debt goes now.
        send_debts({std::move(debt)});
        return;
    }
    std::lock_guard lock(mutex_);
    if (bucket_debts_.size() >= kMaxWaiting) {
        bucket_debts_.pop_front();
        waiting_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
    bucket_debts_.push_back(std::move(debt));
}

void RedisAccounting::send_debts(std::vector<BucketDebt> debts) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<BucketUse> uses;
    for (const auto& d : debts) uses.push_back(d.use);
    const std::size_t count = debts.size();
    // The newest use's rate: the policy may have been reloaded meanwhile.
    BucketDebt owed{debts.back().key, debts.back().per_minute, {0, now}};
    owed.use.units = outstanding_bucket_units(std::move(uses), owed.per_minute, now);
    auto command = take_from_bucket_command(owed.key, owed.per_minute, owed.use.units);
    if (!command) {
        rate_refilled_.fetch_add(count, std::memory_order_relaxed);
        return;
    }
    run_script(*connection_, std::move(*command),
               [this, owed = std::move(owed), count](bool ok, const RedisReply& reply) mutable {
                   if (!ok) {
                       // Lost again: kept as one use, and what refills meanwhile is subtracted
                       // next time.
                       std::lock_guard lock(mutex_);
                       bucket_debts_.push_back(std::move(owed));
                       return;
                   }
                   if (reply.is_error())
                       spdlog::error("state_store: redis refused a rate-limit reconciliation: {}",
                                     reply.text);
                   else
                       rate_reconciled_.fetch_add(count, std::memory_order_relaxed);
               });
}

void RedisAccounting::replay_waiting() {
    std::deque<std::vector<std::string>> waiting;
    std::deque<BucketDebt> debts;
    {
        std::lock_guard lock(mutex_);
        waiting.swap(waiting_);
        debts.swap(bucket_debts_);
    }
    if (waiting.empty() && debts.empty()) return;
    spdlog::info(
        "state_store: redis is back; sending {} settlement(s) and {} rate-limit use(s) made while "
        "it was away",
        waiting.size(), debts.size());
    reconciled_.fetch_add(waiting.size(), std::memory_order_relaxed);
    for (auto& command : waiting) send_eventually(std::move(command));
    // A bucket refills once however many uses took from it: its uses are owed together.
    std::map<std::string, std::vector<BucketDebt>> by_bucket;
    for (auto& debt : debts) by_bucket[debt.key].push_back(std::move(debt));
    for (auto& [key, uses] : by_bucket) send_debts(std::move(uses));
}

nlohmann::json RedisAccounting::status_json() const {
    std::size_t waiting = 0;
    {
        std::lock_guard lock(mutex_);
        waiting = waiting_.size() + bucket_debts_.size();
    }
    return {{"kind", "redis"},
            {"redis", endpoint_text_},
            {"connected", connection_->connected()},
            {"last_error", connection_->last_error()},
            {"shared_admissions", shared_admissions_.load()},
            {"local_admissions", local_admissions_.load()},
            {"refused_unavailable", refused_unavailable_.load()},
            {"waiting_for_redis", waiting},
            {"replayed", reconciled_.load()},
            {"rate_limit_reconciled", rate_reconciled_.load()},
            {"rate_limit_refilled", rate_refilled_.load()},
            {"waiting_dropped", waiting_dropped_.load()}};
}

}  // namespace sluice
