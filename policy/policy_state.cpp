#include "policy/policy_state.h"

#include <algorithm>

namespace sluice {

namespace {

// Written so a saturated amount (INT64_MAX) cannot wrap the sum and fit.
bool exceeds(int64_t limit, int64_t held, int64_t amount) {
    return limit > 0 && amount > limit - held;
}

int64_t ceil_seconds(std::chrono::milliseconds ms) {
    return std::max<int64_t>(1, (ms.count() + 999) / 1000);
}

}  // namespace

AdmissionResult PolicyState::admit(const Admission& admission, TimePoint now) {
    std::lock_guard lock(mutex_);
    AdmissionResult result;

    // Rate limits first: the longest wait among the buckets that are short.
    int64_t wait_s = 0;
    std::string wait_reason;
    for (const auto& charge : admission.buckets) {
        auto [it, inserted] = buckets_.try_emplace(charge.key, charge.per_minute, now);
        auto& bucket = it->second;
        if (!inserted && bucket.capacity() != charge.per_minute)
            bucket.set_rate(charge.per_minute, now);
        if (charge.amount > bucket.capacity()) {
            // Can never fit: waiting a minute is the honest answer for a client that retries,
            // and the reason tells a human why.
            if (60 > wait_s) {
                wait_s = 60;
                wait_reason = "request needs " + std::to_string(charge.amount) + " of " +
                              std::string(charge.what) + " " + std::to_string(charge.per_minute);
            }
            continue;
        }
        if (!bucket.can_take(charge.amount, now)) {
            auto s = ceil_seconds(bucket.wait_for(charge.amount, now));
            if (s > wait_s) {
                wait_s = s;
                wait_reason = std::string(charge.what) + " " + std::to_string(charge.per_minute) +
                              " exceeded";
            }
        }
    }
    if (wait_s > 0) {
        result.outcome = AdmissionResult::Outcome::rate_limited;
        result.retry_after_s = wait_s;
        result.reason = wait_reason;
        return result;
    }

    for (const auto& charge : admission.accounts) {
        auto& account =
            accounts_.try_emplace(charge.key, BudgetAccount{charge.today, {}, {}}).first->second;
        account.roll_to(charge.today);
        const int64_t held_tokens = account.used.tokens + account.reserved.tokens;
        const int64_t held_cost = account.used.cost_pico + account.reserved.cost_pico;
        bool over_tokens = exceeds(charge.limit.tokens, held_tokens, charge.amount.tokens);
        bool over_cost = exceeds(charge.limit.cost_pico, held_cost, charge.amount.cost_pico);
        if (over_tokens || over_cost) {
            result.outcome = AdmissionResult::Outcome::budget_exceeded;
            result.retry_after_s = std::max<int64_t>(1, charge.seconds_to_midnight);
            if (over_tokens) {
                result.reason = "daily token budget " + std::to_string(charge.limit.tokens) +
                                " would be exceeded (" + std::to_string(held_tokens) +
                                " used or held, request needs up to " +
                                std::to_string(charge.amount.tokens) + ")";
            } else {
                result.reason = "daily cost budget $" +
                                std::to_string(static_cast<double>(charge.limit.cost_pico) / 1e12) +
                                " would be exceeded";
            }
            return result;
        }
    }

    Reservation reservation;
    reservation.price_pico = admission.price_pico;
    for (const auto& charge : admission.buckets) {
        buckets_.at(charge.key).take(charge.amount, now);
        if (charge.settle_with_usage)
            reservation.token_buckets.emplace_back(charge.key, charge.amount);
    }
    for (const auto& charge : admission.accounts) {
        auto& account = accounts_.at(charge.key);
        account.reserved.tokens += charge.amount.tokens;
        account.reserved.cost_pico += charge.amount.cost_pico;
        reservation.accounts.emplace_back(charge.key, charge.amount);
    }
    if (!reservation.token_buckets.empty() || !reservation.accounts.empty()) {
        result.reservation_id = next_reservation_id_++;
        reservations_.emplace(result.reservation_id, std::move(reservation));
    }
    return result;
}

void PolicyState::finish(uint64_t reservation_id, const std::optional<TokenUsage>& usage,
                         bool released, TimePoint now) {
    std::lock_guard lock(mutex_);
    auto node = reservations_.extract(reservation_id);
    if (node.empty()) return;
    const Reservation& reservation = node.mapped();
    for (const auto& [key, amount] : reservation.accounts) {
        auto it = accounts_.find(key);
        if (it == accounts_.end()) continue;
        auto& account = it->second;
        account.reserved.tokens -= amount.tokens;
        account.reserved.cost_pico -= amount.cost_pico;
        if (released) continue;
        if (usage) {
            account.used.tokens += usage->total();
            if (reservation.price_pico)
                account.used.cost_pico += usage->input_tokens * reservation.price_pico->first +
                                          usage->output_tokens * reservation.price_pico->second;
        } else {
            account.used.tokens += amount.tokens;
            account.used.cost_pico += amount.cost_pico;
        }
    }
    for (const auto& [key, taken] : reservation.token_buckets) {
        auto it = buckets_.find(key);
        if (it == buckets_.end()) continue;
        if (released)
            it->second.adjust(taken, now);
        else if (usage)
            it->second.adjust(taken - usage->total(), now);
    }
}

void PolicyState::settle(uint64_t reservation_id, const std::optional<TokenUsage>& usage,
                         TimePoint now) {
    finish(reservation_id, usage, false, now);
}

void PolicyState::release(uint64_t reservation_id, TimePoint now) {
    finish(reservation_id, std::nullopt, true, now);
}

size_t PolicyState::outstanding_reservations() const {
    std::lock_guard lock(mutex_);
    return reservations_.size();
}

std::vector<BudgetAccountSnapshot> PolicyState::budget_accounts() const {
    std::lock_guard lock(mutex_);
    std::vector<BudgetAccountSnapshot> out;
    out.reserve(accounts_.size());
    for (const auto& [key, account] : accounts_) out.push_back({key, account});
    return out;
}

nlohmann::json PolicyState::to_json() const {
    std::lock_guard lock(mutex_);
    nlohmann::json budgets = nlohmann::json::object();
    for (const auto& [key, account] : accounts_) {
        budgets[key] = {{"day", account.day},
                        {"tokens", account.used.tokens + account.reserved.tokens},
                        {"cost_pico", account.used.cost_pico + account.reserved.cost_pico}};
    }
    return {{"version", 1}, {"budgets", std::move(budgets)}};
}

std::optional<std::string> PolicyState::restore(const nlohmann::json& state) {
    if (!state.is_object()) return "policy state: not a JSON object";
    if (state.value("version", 0) != 1) return "policy state: unsupported version";
    auto budgets = state.find("budgets");
    if (budgets == state.end() || !budgets->is_object())
        return "policy state: budgets: not an object";
    std::map<std::string, BudgetAccount> restored;
    for (const auto& [key, value] : budgets->items()) {
        if (!value.is_object()) return "policy state: budgets." + key + ": not an object";
        BudgetAccount account;
        for (const auto* field : {"day", "tokens", "cost_pico"}) {
            auto it = value.find(field);
            if (it == value.end() || !it->is_number_integer())
                return "policy state: budgets." + key + "." + field + ": not an integer";
        }
        account.day = value["day"].get<int64_t>();
        account.used.tokens = value["tokens"].get<int64_t>();
        account.used.cost_pico = value["cost_pico"].get<int64_t>();
        restored.emplace(key, account);
    }
    std::lock_guard lock(mutex_);
    // In-flight reservations of this process stay held on top of the restored usage.
    for (auto& [key, account] : restored) {
        if (auto it = accounts_.find(key); it != accounts_.end())
            account.reserved = it->second.reserved;
    }
    accounts_ = std::move(restored);
    return std::nullopt;
}

}  // namespace sluice
