// Rate limits and budgets kept in Redis, shared by every host that names the same server and
// prefix (state_store.redis). Reserve and settle run as Lua scripts (redis_scripts.h), so a
// burst from many hosts cannot overshoot a limit any more than it can on one host.
//
// Redis unreachable or slower than state_store.timeout_ms: a request waits no longer than
// that, then each control follows its fail_mode. Closed (the default) refuses with 503
// policy_unavailable; open accounts the request on this host (`local`, the PolicyState that
// is also the default store) and the decision says so in the audit. What was used meanwhile is
// not lost: settlements that could not be sent, usage accounted locally, and what local
// rate-limit buckets gave out (less what has refilled since) are queued and sent when Redis is
// back (bounded; the oldest is dropped past the bound, and counted).
//
// On the data path the round trip runs on the proxy worker's own event loop: serve_on() gives
// each worker a connection of its own, and admit_later() sends the reserve script there and
// answers when the reply (or the wait's end) comes, without leaving the worker's thread.
// admit() (tests, other threads) goes through a connection with a thread of its own and blocks
// the caller for at most timeout_ms. Settlements and reconciliation use that connection too.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/config/config.h"
#include "agent/state_store/redis_connection.h"
#include "agent/state_store/redis_scripts.h"
#include "policy/policy_accounting.h"
#include "policy/policy_state.h"

namespace sluice {

class RedisAccounting final : public PolicyAccounting {
public:
    // How long a reservation is held in Redis if its host never settles it (crashed).
    static constexpr int64_t kReservationTtlMs = 30 * 60 * 1000;
    // Settlements and local usage waiting for Redis, at most.
    static constexpr std::size_t kMaxWaiting = 100'000;

    // Throws std::runtime_error (a start-up line) when the password file cannot be read or
    // others may read it.
    RedisAccounting(const StateStoreConfig& config, PolicyState& local);
    ~RedisAccounting() override;

    void start() { connection_->start(); }
    void stop() { connection_->stop(); }
    // Gives each loop (a proxy worker's) a connection of its own for admit_later. The loops
    // own those connections and must stop before this object is destroyed.
    void serve_on(const std::vector<boost::asio::io_context*>& loops);

    AdmissionResult admit(const Admission& admission, TimePoint now) override;
    bool answers_later() const override { return !lanes_.empty(); }
    // On a loop given to serve_on: `done` runs on that loop once Redis answered or timeout_ms
    // has passed (then fail_mode decides). On any other thread it is admit().
    void admit_later(const Admission& admission, TimePoint now, AdmitCallback done) override;
    void settle(uint64_t reservation_id, const std::optional<TokenUsage>& usage,
                TimePoint now) override;
    void release(uint64_t reservation_id, TimePoint now) override;

    bool connected() const { return connection_->connected(); }
    // For `sluicectl status`: the link, and what fail_mode did while it was down.
    nlohmann::json status_json() const;

private:
    struct Held {
        bool shared = true;
        SharedReservation reservation;  // shared
        uint64_t local_id = 0;          // accounted on this host
        struct Account {
            std::string key;
            int64_t day = 0;
            BudgetAmount amount;
        };
        std::vector<Account> local_accounts;
        // Tokens buckets taken from on this host: owed to the shared bucket once settled.
        std::vector<Admission::BucketCharge> local_token_buckets;
        std::chrono::steady_clock::time_point taken_at;
        std::optional<std::pair<int64_t, int64_t>> price_pico;
    };
    // What a fail-open request took from a local rate-limit bucket: owed to the shared bucket,
    // less what has refilled by the time Redis is back.
    struct BucketDebt {
        std::string key;  // prefixed
        int64_t per_minute = 0;
        BucketUse use;
    };

    AdmissionResult admit_locally(const Admission& admission, TimePoint now,
                                  const std::string& why);
    // The admit script's reply (ok false: none came) as the request's answer.
    AdmissionResult take_reply(bool ok, const RedisReply& reply, const Admission& admission,
                               SharedReservation reservation, uint64_t id, TimePoint now);
    // The admit script's reply for a request already answered by its fail_mode: what Redis
    // took for it is given back at once.
    void give_back_late(bool ok, const RedisReply& reply, const Admission& admission,
                        const SharedReservation& reservation);
    // The loop connection of the calling thread, if it is a loop given to serve_on.
    RedisConnection* lane_here() const;
    void owe_bucket(BucketDebt debt);
    // Sends what one bucket's uses still owe (all of `debts` name the same bucket).
    void send_debts(std::vector<BucketDebt> debts);
    void finish(uint64_t reservation_id, const std::optional<TokenUsage>& usage, bool released,
                TimePoint now);
    // Runs a script command; a server that lost its script cache gets it as EVAL.
    void run_script(RedisConnection& connection, std::vector<std::string> command,
                    RedisConnection::Callback done);
    // Sends a command that must reach Redis eventually (settle, local usage): queued while
    // Redis is unreachable and replayed when it is back.
    void send_eventually(std::vector<std::string> command);
    void replay_waiting();

    std::shared_ptr<RedisConnection> connection_;        // a thread of its own
    std::vector<std::weak_ptr<RedisConnection>> lanes_;  // one per proxy loop; set before serving
    PolicyState& local_;
    const std::string prefix_;
    const std::chrono::milliseconds timeout_;
    const std::string endpoint_text_;
    const std::string instance_;  // makes reservation ids unique across hosts and restarts

    mutable std::mutex mutex_;
    std::unordered_map<uint64_t, Held> held_;
    uint64_t next_id_ = 1;
    std::deque<std::vector<std::string>> waiting_;
    std::deque<BucketDebt> bucket_debts_;

    std::atomic<uint64_t> shared_admissions_{0};
    std::atomic<uint64_t> local_admissions_{0};
    std::atomic<uint64_t> refused_unavailable_{0};
    std::atomic<uint64_t> waiting_dropped_{0};
    std::atomic<uint64_t> reconciled_{0};
    std::atomic<uint64_t> rate_reconciled_{0};  // bucket debts sent to Redis
    std::atomic<uint64_t> rate_refilled_{0};    // bucket debts whose window had passed
};

// The password for state_store.auth.password_file ("" when none is configured). Throws
// std::runtime_error naming the file when it is unreadable or others may read it.
std::string read_redis_password(const std::string& path);

}  // namespace sluice
