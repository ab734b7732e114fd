// The Lua scripts that keep rate limits and budgets in Redis, and the commands that run them.
// Each script runs atomically on the server, so a reservation checked and taken by one host
// cannot be overtaken by another host's: the same guarantee PolicyState gives one process.
//
// Keys (all under the configured prefix; a policy key such as "budget|team|user=alice" is
// kept as is):
//   <prefix><bucket key>        hash  l (level, 1/60000 token units), t (last refill, ms)
//   <prefix><account key>       hash  day, used_t, used_c, res_t, res_c
//   <prefix><account key>|res   hash  reservation id -> "tokens cost" still held
//   <prefix><account key>|exp   zset  reservation id scored by when it expires (ms)
// Time comes from the server (TIME), so hosts with skewed clocks share one bucket fairly; the
// budget day comes from the host (it depends on the rule's time zone).
// A reservation a host never settles (it crashed) expires after its TTL and stops being held;
// Lua numbers are doubles, so amounts are exact up to 2^53 (tokens, and $9,007 in cost_pico).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/state_store/redis_reply.h"
#include "policy/budget_ledger.h"
#include "policy/policy_admission.h"

namespace sluice {

struct RedisScript {
    std::string_view name;
    std::string_view source;
    std::string sha1;  // hex, what EVALSHA names
};

const RedisScript& admit_script();
const RedisScript& settle_script();
const RedisScript& add_usage_script();
const RedisScript& take_from_bucket_script();

// What a host remembers of a reservation held in Redis, to settle or release it.
struct SharedReservation {
    std::string id;
    struct Account {
        std::string key;  // prefixed
        BudgetAmount amount;
    };
    struct Bucket {
        std::string key;  // prefixed
        int64_t per_minute = 0;
        int64_t taken = 0;
    };
    std::vector<Account> accounts;
    std::vector<Bucket> token_buckets;  // those corrected at settle
    std::optional<std::pair<int64_t, int64_t>> price_pico;
};

// EVALSHA admit …: takes `admission` under `reservation_id`, held at most `ttl_ms`.
std::vector<std::string> admit_command(const std::string& prefix, const Admission& admission,
                                       const std::string& reservation_id, int64_t ttl_ms);
// The reservation to remember once admit_command's reply says admitted.
SharedReservation shared_reservation(const std::string& prefix, const Admission& admission,
                                     const std::string& reservation_id);
// Reads admit's reply; a reply that is not what the script returns is `unavailable`.
AdmissionResult read_admit_reply(const RedisReply& reply, const Admission& admission);

// What a finished request adds to an account's usage: its usage priced, or with none the whole
// estimate (the fail-closed choice, as PolicyState does); nothing when released.
BudgetAmount charge_for(const BudgetAmount& reserved,
                        const std::optional<std::pair<int64_t, int64_t>>& price_pico,
                        const std::optional<TokenUsage>& usage, bool released);

// EVALSHA settle …: drops the reservation and charges what was used (nothing when released).
std::vector<std::string> settle_command(const SharedReservation& reservation,
                                        const std::optional<TokenUsage>& usage, bool released);

// EVALSHA settle … for a reservation whose request was already answered by its fail_mode
// (Redis answered too late): gives back everything admit took, the requests buckets too.
std::vector<std::string> give_back_command(const std::string& prefix, const Admission& admission,
                                           SharedReservation reservation);

// EVALSHA add_usage …: adds usage accounted on this host while Redis was unreachable to the
// shared account, on `day` (dropped if the shared account has moved past that day).
std::vector<std::string> add_usage_command(const std::string& prefix, const std::string& key,
                                           int64_t day, const BudgetAmount& amount);

// What a host took from one rate-limit bucket on its own while Redis was away, and when
// (amounts in 1/60000 token units, as the scripts keep levels).
struct BucketUse {
    int64_t units = 0;
    std::chrono::steady_clock::time_point taken_at;
};
// What of `uses` a bucket refilling at `per_minute` still owes at `now`: the uses in time order,
// the bucket refilling between them at its one rate (however many took from it), never below
// nothing. 0 when every use's window has passed.
int64_t outstanding_bucket_units(std::vector<BucketUse> uses, int64_t per_minute,
                                 std::chrono::steady_clock::time_point now);
// EVALSHA take_from_bucket …: takes `units` from the bucket `key` (prefixed); nullopt when
// nothing is owed.
std::optional<std::vector<std::string>> take_from_bucket_command(const std::string& key,
                                                                 int64_t per_minute, int64_t units);

// The same command as EVAL with the script's source, for a server that lost its script cache.
std::vector<std::string> as_eval(std::vector<std::string> evalsha_command);

}  // namespace sluice
