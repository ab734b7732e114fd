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
#include "policy/policy_accounting.h"
#include "policy/policy_admission.h"
#include "policy/rate_limiter.h"

namespace sluice {

// A budget account as reported to operators (sluicectl status).
struct BudgetAccountSnapshot {
    std::string key;
    BudgetAccount account;
};

class PolicyState final : public PolicyAccounting {
public:
    PolicyState() = default;
    PolicyState(const PolicyState&) = delete;
    PolicyState& operator=(const PolicyState&) = delete;

    // Buckets are checked before budgets; nothing is taken on refusal.
    AdmissionResult admit(const Admission& admission, TimePoint now) override;
    void settle(uint64_t reservation_id, const std::optional<TokenUsage>& usage,
                TimePoint now) override;
    void release(uint64_t reservation_id, TimePoint now) override;

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
