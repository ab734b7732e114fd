// Mutable policy accounting shared by all connections: rate-limit buckets, daily budget
// accounts and in-flight reservations. One mutex guards all of it; each call holds it for a
// few map operations, never across I/O. Keys are strings built from rule name and principal,
// so state carries over a policy reload (a renamed rule starts fresh).
//
// Persistence: `to_json` / `restore` round-trip the budget accounts (buckets refill within a
// minute and are not saved). Held reservations are saved as used: after a crash the requests
// they belonged to may have been billed upstream, so counting them is the fail-closed choice.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/budget_ledger.h"
#include "policy/rate_limiter.h"

namespace sluice {

// What one request would take, computed by the engine from the matched rule.
struct Admission {
    struct BucketCharge {
        std::string key;
        // "requests_per_minute" / "tokens_per_minute", for reasons; static text, so building an
        // admission per request does not allocate it.
        std::string_view what;
        int64_t per_minute = 0;
        int64_t amount = 0;
        bool settle_with_usage = false;  // tokens buckets are corrected at settle
    };
    struct AccountCharge {
        std::string key;
        int64_t today = 0;  // local day now
        int64_t seconds_to_midnight = 0;
        BudgetAmount limit;  // 0 = unlimited in that dimension
        BudgetAmount amount;
    };
    std::vector<BucketCharge> buckets;
    std::vector<AccountCharge> accounts;
    // Prices for settling cost; nullopt = cost not accounted (unknown price, fail_mode open).
    std::optional<std::pair<int64_t, int64_t>> price_pico;  // input, output per token
};

struct AdmissionResult {
    enum class Outcome { admitted, rate_limited, budget_exceeded } outcome = Outcome::admitted;
    std::string reason;
    int64_t retry_after_s = 0;
    uint64_t reservation_id = 0;  // 0 when nothing needs settling
};

// A budget account as reported to operators (sluicectl status).
struct BudgetAccountSnapshot {
    std::string key;
    BudgetAccount account;
};

class PolicyState {
public:
    using TimePoint = TokenBucket::TimePoint;

    PolicyState() = default;
    PolicyState(const PolicyState&) = delete;
    PolicyState& operator=(const PolicyState&) = delete;

    // Checks every bucket and account and, only if all have room, takes from all of them and
    // records a reservation — atomically, so concurrent callers cannot both fit in the last
    // slot. Buckets are checked before budgets; nothing is taken on refusal.
    AdmissionResult admit(const Admission& admission, TimePoint now);

    // The request finished: replace its reservation with what it really used. With no usage
    // (stream cut before the usage chunk), the whole estimate is charged. Unknown or already
    // settled ids are ignored, so calling twice is harmless.
    void settle(uint64_t reservation_id, const std::optional<TokenUsage>& usage, TimePoint now);

    // The request never reached upstream (or upstream refused it before billing): return the
    // reservation in full.
    void release(uint64_t reservation_id, TimePoint now);

    size_t outstanding_reservations() const;
    std::vector<BudgetAccountSnapshot> budget_accounts() const;

    // {"version":1,"budgets":{key:{"day":N,"tokens":T,"cost_pico":C}}}
    nlohmann::json to_json() const;
    // Replaces the accounts with those in `state`; on a malformed document leaves the state
    // untouched and returns the reason.
    [[nodiscard]] std::optional<std::string> restore(const nlohmann::json& state);

private:
    struct Reservation {
        std::vector<std::pair<std::string, int64_t>> token_buckets;  // key, tokens taken
        std::vector<std::pair<std::string, BudgetAmount>> accounts;  // key, amount held
        std::optional<std::pair<int64_t, int64_t>> price_pico;
    };
    void finish(uint64_t reservation_id, const std::optional<TokenUsage>& usage, bool released,
                TimePoint now);

    mutable std::mutex mutex_;
    std::map<std::string, TokenBucket> buckets_;
    std::map<std::string, BudgetAccount> accounts_;
    std::unordered_map<uint64_t, Reservation> reservations_;
    uint64_t next_reservation_id_ = 1;
};

}  // namespace sluice
