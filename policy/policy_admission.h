// What one request would take from rate limits and budgets (computed by the engine from the
// matched rule), and what the accounting answered.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "policy/budget_ledger.h"

namespace sluice {

struct Admission {
    struct BucketCharge {
        std::string key;
        // "requests_per_minute" / "tokens_per_minute", for reasons; static text, so building an
        // admission per request does not allocate it.
        std::string_view what;
        int64_t per_minute = 0;
        int64_t amount = 0;
        bool settle_with_usage = false;  // tokens buckets are corrected at settle
        // The control's fail_mode is open: when shared state cannot be reached, this charge is
        // kept on this host instead of refusing the request.
        bool fail_open = false;
    };
    struct AccountCharge {
        std::string key;
        int64_t today = 0;  // local day now
        int64_t seconds_to_midnight = 0;
        BudgetAmount limit;  // 0 = unlimited in that dimension
        BudgetAmount amount;
        bool fail_open = false;  // as for BucketCharge
    };
    std::vector<BucketCharge> buckets;
    std::vector<AccountCharge> accounts;
    // Prices for settling cost; nullopt = cost not accounted (unknown price, fail_mode open).
    std::optional<std::pair<int64_t, int64_t>> price_pico;  // input, output per token
};

struct AdmissionResult {
    enum class Outcome {
        admitted,
        rate_limited,
        budget_exceeded,
        // Shared state could not be reached in time and a control's fail_mode is closed.
        unavailable,
    } outcome = Outcome::admitted;
    std::string reason;
    int64_t retry_after_s = 0;
    uint64_t reservation_id = 0;  // 0 when nothing needs settling
    // Admitted, but not as configured (shared state unreachable, fail_mode open: kept on this
    // host); the audit records it among the decision's skipped controls.
    std::string degraded;
};

}  // namespace sluice
