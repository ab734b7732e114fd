#include "agent/gate/policy_status.h"

namespace sluice {

nlohmann::json policy_status_json(const PolicyStore& policies, const PolicyState& state) {
    const auto policy = policies.current();
    nlohmann::json budgets = nlohmann::json::object();
    for (const auto& account : state.budget_accounts())
        budgets[account.key] = {
            {"day", account.account.day},
            {"tokens", account.account.used.tokens},
            {"cost_usd", static_cast<double>(account.account.used.cost_pico) / 1e12}};
    nlohmann::json out = {{"path", policies.path()},
                          {"in_force", policy != nullptr},
                          {"rules", policy ? policy->rules.size() : 0},
                          {"outstanding_reservations", state.outstanding_reservations()},
                          {"budgets", budgets}};
    if (const std::string error = policies.last_error(); !error.empty())
        out["last_reload_error"] = error;
    return out;
}

}  // namespace sluice
