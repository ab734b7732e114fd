#include "agent/state_store/redis_scripts.h"

#include <openssl/sha.h>

#include <algorithm>

namespace sluice {

namespace {

// KEYS: the buckets (nb), then three per account (hash, |res, |exp).
// ARGV: nb, na, reservation id, ttl ms; per bucket per_minute, amount; per account today,
// limit_t, limit_c, amount_t, amount_c.
// Returns {0} admitted; {1, wait_ms, bucket index, never fits 0/1} rate limited;
// {2, account index, over tokens 0/1, held_t, held_c} budget exceeded. Indexes from 1.
constexpr std::string_view kAdmit = R"lua(
local nb, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local id, ttl = ARGV[3], tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local U = 60000
local levels = {}
local wait, wait_index, never = 0, 0, 0
for i = 1, nb do
  local rate, amount = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
  local cap = rate * U
  local h = redis.call('HMGET', KEYS[i], 'l', 't')
  local level, last = tonumber(h[1]), tonumber(h[2])
  if level == nil or last == nil then level, last = cap, now end
  if now > last then level = level + (now - last) * rate end
  if level > cap then level = cap end
  levels[i] = level
  if amount > rate then
    if 60000 > wait then wait, wait_index, never = 60000, i, 1 end
  elseif level < amount * U then
    local ms = math.ceil((amount * U - level) / rate)
    if ms > wait then wait, wait_index, never = ms, i, 0 end
  end
end
if wait > 0 then return {1, wait, wait_index, never} end
local base = 4 + 2 * nb
for j = 1, na do
  local hk, rk, ek = KEYS[nb + 3 * j - 2], KEYS[nb + 3 * j - 1], KEYS[nb + 3 * j]
  local o = base + 5 * (j - 1)
  local today = tonumber(ARGV[o + 1])
  local limit_t, limit_c = tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  local amount_t, amount_c = tonumber(ARGV[o + 4]), tonumber(ARGV[o + 5])
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', ek, '-inf', now)) do
    local held = redis.call('HGET', rk, rid)
    if held then
      local t, c = string.match(held, '^(%d+) (%d+)$')
      if t and t ~= '0' then redis.call('HINCRBY', hk, 'res_t', '-' .. t) end
      if c and c ~= '0' then redis.call('HINCRBY', hk, 'res_c', '-' .. c) end
      redis.call('HDEL', rk, rid)
    end
    redis.call('ZREM', ek, rid)
  end
  local a = redis.call('HMGET', hk, 'day', 'used_t', 'used_c', 'res_t', 'res_c')
  local day = tonumber(a[1]) or 0
  local used_t, used_c = tonumber(a[2]) or 0, tonumber(a[3]) or 0
  if today > day then
    redis.call('HSET', hk, 'day', ARGV[o + 1], 'used_t', 0, 'used_c', 0)
    used_t, used_c = 0, 0
  end
  local held_t = used_t + (tonumber(a[4]) or 0)
  local held_c = used_c + (tonumber(a[5]) or 0)
  local over_t = limit_t > 0 and amount_t > limit_t - held_t
  local over_c = limit_c > 0 and amount_c > limit_c - held_c
  if over_t or over_c then
    return {2, j, over_t and 1 or 0, string.format('%.0f', held_t), string.format('%.0f', held_c)}
  end
end
for i = 1, nb do
  local amount = tonumber(ARGV[4 + 2 * i])
  redis.call('HSET', KEYS[i], 'l', string.format('%.0f', levels[i] - amount * U), 't', now)
  redis.call('PEXPIRE', KEYS[i], 600000)
end
for j = 1, na do
  local hk, rk, ek = KEYS[nb + 3 * j - 2], KEYS[nb + 3 * j - 1], KEYS[nb + 3 * j]
  local o = base + 5 * (j - 1)
  redis.call('HINCRBY', hk, 'res_t', ARGV[o + 4])
  redis.call('HINCRBY', hk, 'res_c', ARGV[o + 5])
  redis.call('HSET', rk, id, ARGV[o + 4] .. ' ' .. ARGV[o + 5])
  redis.call('ZADD', ek, now + ttl, id)
  for _, k in ipairs({hk, rk, ek}) do redis.call('EXPIRE', k, 259200) end
end
return {0}
)lua";

// KEYS: three per account (hash, |res, |exp), then the buckets.
// ARGV: na, nb, reservation id; per account charge_t, charge_c; per bucket per_minute, tokens
// to give back (negative takes more).
constexpr std::string_view kSettle = R"lua(
local na, nb, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for j = 1, na do
  local hk, rk, ek = KEYS[3 * j - 2], KEYS[3 * j - 1], KEYS[3 * j]
  local held = redis.call('HGET', rk, id)
  if held then
    -- Amounts are whole non-negative numbers; "-0" is not an integer to Redis.
    local t, c = string.match(held, '^(%d+) (%d+)$')
    if t and t ~= '0' then redis.call('HINCRBY', hk, 'res_t', '-' .. t) end
    if c and c ~= '0' then redis.call('HINCRBY', hk, 'res_c', '-' .. c) end
    redis.call('HDEL', rk, id)
    redis.call('ZREM', ek, id)
  end
  redis.call('HINCRBY', hk, 'used_t', ARGV[2 + 2 * j])
  redis.call('HINCRBY', hk, 'used_c', ARGV[3 + 2 * j])
end
local base = 3 + 2 * na
if nb > 0 then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  for i = 1, nb do
    local k = KEYS[3 * na + i]
    local rate, give = tonumber(ARGV[base + 2 * i - 1]), tonumber(ARGV[base + 2 * i])
    local cap = rate * 60000
    local h = redis.call('HMGET', k, 'l', 't')
    local level, last = tonumber(h[1]), tonumber(h[2])
    if level ~= nil and last ~= nil then
      if now > last then level = level + (now - last) * rate end
      level = level + give * 60000
      if level > cap then level = cap end
      redis.call('HSET', k, 'l', string.format('%.0f', level), 't', math.max(now, last))
    end
  end
end
return 1
)lua";

// KEYS: the account hash. ARGV: day, tokens, cost.
constexpr std::string_view kAddUsage = R"lua(
local day = tonumber(redis.call('HGET', KEYS[1], 'day')) or 0
local d = tonumber(ARGV[1])
if d > day then
  redis.call('HSET', KEYS[1], 'day', ARGV[1], 'used_t', 0, 'used_c', 0)
  day = d
end
if d == day then
  redis.call('HINCRBY', KEYS[1], 'used_t', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'used_c', ARGV[3])
  redis.call('EXPIRE', KEYS[1], 259200)
  return 1
end
return 0
)lua";

// KEYS: the bucket. ARGV: per_minute, units (1/60000 token) a host took on its own while Redis
// was away and that have not refilled since. The level may go below zero (the fleet took more
// than the limit meanwhile: later requests wait until it has refilled), never below one
// minute's worth, which would have refilled anyway.
constexpr std::string_view kTakeFromBucket = R"lua(
local rate, units = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local cap = rate * 60000
local h = redis.call('HMGET', KEYS[1], 'l', 't')
local level, last = tonumber(h[1]), tonumber(h[2])
if level == nil or last == nil then level, last = cap, now end
if now > last then level = level + (now - last) * rate end
if level > cap then level = cap end
level = level - units
if level < -cap then level = -cap end
redis.call('HSET', KEYS[1], 'l', string.format('%.0f', level), 't', math.max(now, last))
redis.call('PEXPIRE', KEYS[1], 600000)
return 1
)lua";

std::string sha1_hex(std::string_view text) {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * sizeof digest);
    for (unsigned char b : digest) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

const RedisScript* script_by_sha(std::string_view sha) {
    for (const RedisScript* s :
         {&admit_script(), &settle_script(), &add_usage_script(), &take_from_bucket_script()})
        if (s->sha1 == sha) return s;
    return nullptr;
}

int64_t ceil_seconds(int64_t ms) { return std::max<int64_t>(1, (ms + 999) / 1000); }

std::string str(int64_t v) { return std::to_string(v); }

}  // namespace

const RedisScript& admit_script() {
    static const RedisScript script{"admit", kAdmit, sha1_hex(kAdmit)};
    return script;
}

const RedisScript& settle_script() {
    static const RedisScript script{"settle", kSettle, sha1_hex(kSettle)};
    return script;
}

const RedisScript& add_usage_script() {
    static const RedisScript script{"add_usage", kAddUsage, sha1_hex(kAddUsage)};
    return script;
}

const RedisScript& take_from_bucket_script() {
    static const RedisScript script{"take_from_bucket", kTakeFromBucket, sha1_hex(kTakeFromBucket)};
    return script;
}

int64_t outstanding_bucket_units(std::vector<BucketUse> uses, int64_t per_minute,
                                 std::chrono::steady_clock::time_point now) {
    if (uses.empty() || per_minute <= 0) return 0;
    std::sort(uses.begin(), uses.end(),
              [](const BucketUse& a, const BucketUse& b) { return a.taken_at < b.taken_at; });
    // A bucket refills per_minute units each ms (60000 units a token).
    auto refilled = [per_minute](auto from, auto to) {
        return double(per_minute) *
               double(std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
    };
    double owed = 0;
    auto last = uses.front().taken_at;
    for (const BucketUse& use : uses) {
        owed = std::max(0.0, owed - refilled(last, use.taken_at)) + double(use.units);
        last = use.taken_at;
    }
    owed = std::max(0.0, owed - refilled(last, now));
    return int64_t(owed);
}

std::optional<std::vector<std::string>> take_from_bucket_command(const std::string& key,
                                                                 int64_t per_minute,
                                                                 int64_t units) {
    if (per_minute <= 0 || units <= 0) return std::nullopt;
    return std::vector<std::string>{
        "EVALSHA", take_from_bucket_script().sha1, "1", key, str(per_minute), str(units)};
}

std::vector<std::string> admit_command(const std::string& prefix, const Admission& admission,
                                       const std::string& reservation_id, int64_t ttl_ms) {
    const size_t nb = admission.buckets.size();
    const size_t na = admission.accounts.size();
    std::vector<std::string> argv{"EVALSHA", admit_script().sha1, str(int64_t(nb + 3 * na))};
    for (const auto& b : admission.buckets) argv.push_back(prefix + b.key);
    for (const auto& a : admission.accounts) {
        argv.push_back(prefix + a.key);
        argv.push_back(prefix + a.key + "|res");
        argv.push_back(prefix + a.key + "|exp");
    }
    argv.push_back(str(int64_t(nb)));
    argv.push_back(str(int64_t(na)));
    argv.push_back(reservation_id);
    argv.push_back(str(ttl_ms));
    for (const auto& b : admission.buckets) {
        argv.push_back(str(b.per_minute));
        argv.push_back(str(b.amount));
    }
    for (const auto& a : admission.accounts) {
        argv.push_back(str(a.today));
        argv.push_back(str(a.limit.tokens));
        argv.push_back(str(a.limit.cost_pico));
        argv.push_back(str(a.amount.tokens));
        argv.push_back(str(a.amount.cost_pico));
    }
    return argv;
}

SharedReservation shared_reservation(const std::string& prefix, const Admission& admission,
                                     const std::string& reservation_id) {
    SharedReservation out;
    out.id = reservation_id;
    out.price_pico = admission.price_pico;
    for (const auto& a : admission.accounts) out.accounts.push_back({prefix + a.key, a.amount});
    for (const auto& b : admission.buckets)
        if (b.settle_with_usage)
            out.token_buckets.push_back({prefix + b.key, b.per_minute, b.amount});
    return out;
}

std::vector<std::string> give_back_command(const std::string& prefix, const Admission& admission,
                                           SharedReservation reservation) {
    for (const auto& b : admission.buckets)
        if (!b.settle_with_usage)
            reservation.token_buckets.push_back({prefix + b.key, b.per_minute, b.amount});
    return settle_command(reservation, std::nullopt, true);
}

AdmissionResult read_admit_reply(const RedisReply& reply, const Admission& admission) {
    AdmissionResult result;
    auto unavailable = [&](std::string why) {
        result.outcome = AdmissionResult::Outcome::unavailable;
        result.reason = "shared policy state: " + std::move(why);
        return result;
    };
    if (reply.is_error()) return unavailable("redis: " + reply.text);
    if (reply.type != RedisReply::Type::array || reply.elements.empty())
        return unavailable("unexpected reply to admit");
    auto integer = [&](size_t i) -> std::optional<int64_t> {
        if (i >= reply.elements.size()) return std::nullopt;
        const RedisReply& e = reply.elements[i];
        if (e.type == RedisReply::Type::integer) return e.integer;
        if (e.type == RedisReply::Type::string) {
            try {
                size_t used = 0;
                const long long v = std::stoll(e.text, &used);
                if (used == e.text.size()) return v;
            } catch (const std::exception&) {
            }
        }
        return std::nullopt;
    };
    const auto code = integer(0);
    if (code == 0) return result;
    if (code == 1) {
        const auto wait_ms = integer(1), index = integer(2), never = integer(3);
        if (!wait_ms || !index || !never || *index < 1 ||
            static_cast<size_t>(*index) > admission.buckets.size())
            return unavailable("unexpected reply to admit");
        const auto& charge = admission.buckets[static_cast<size_t>(*index - 1)];
        result.outcome = AdmissionResult::Outcome::rate_limited;
        result.retry_after_s = *never ? 60 : ceil_seconds(*wait_ms);
        result.reason = *never
                            ? "request needs " + str(charge.amount) + " of " +
                                  std::string(charge.what) + " " + str(charge.per_minute)
                            : std::string(charge.what) + " " + str(charge.per_minute) + " exceeded";
        return result;
    }
    if (code == 2) {
        const auto index = integer(1), over_tokens = integer(2), held_t = integer(3);
        if (!index || !over_tokens || !held_t || *index < 1 ||
            static_cast<size_t>(*index) > admission.accounts.size())
            return unavailable("unexpected reply to admit");
        const auto& charge = admission.accounts[static_cast<size_t>(*index - 1)];
        result.outcome = AdmissionResult::Outcome::budget_exceeded;
        result.retry_after_s = std::max<int64_t>(1, charge.seconds_to_midnight);
        if (*over_tokens)
            result.reason = "daily token budget " + str(charge.limit.tokens) +
                            " would be exceeded (" + str(*held_t) +
                            " used or held, request needs up to " + str(charge.amount.tokens) + ")";
        else
            result.reason = "daily cost budget $" +
                            std::to_string(static_cast<double>(charge.limit.cost_pico) / 1e12) +
                            " would be exceeded";
        return result;
    }
    return unavailable("unexpected reply to admit");
}

BudgetAmount charge_for(const BudgetAmount& reserved,
                        const std::optional<std::pair<int64_t, int64_t>>& price_pico,
                        const std::optional<TokenUsage>& usage, bool released) {
    if (released) return {};
    if (!usage) return reserved;
    BudgetAmount out;
    out.tokens = usage->total();
    if (price_pico)
        out.cost_pico =
            usage->input_tokens * price_pico->first + usage->output_tokens * price_pico->second;
    return out;
}

std::vector<std::string> settle_command(const SharedReservation& reservation,
                                        const std::optional<TokenUsage>& usage, bool released) {
    const size_t na = reservation.accounts.size();
    const size_t nb = reservation.token_buckets.size();
    std::vector<std::string> argv{"EVALSHA", settle_script().sha1, str(int64_t(3 * na + nb))};
    for (const auto& a : reservation.accounts) {
        argv.push_back(a.key);
        argv.push_back(a.key + "|res");
        argv.push_back(a.key + "|exp");
    }
    for (const auto& b : reservation.token_buckets) argv.push_back(b.key);
    argv.push_back(str(int64_t(na)));
    argv.push_back(str(int64_t(nb)));
    argv.push_back(reservation.id);
    for (const auto& a : reservation.accounts) {
        const BudgetAmount charge = charge_for(a.amount, reservation.price_pico, usage, released);
        argv.push_back(str(charge.tokens));
        argv.push_back(str(charge.cost_pico));
    }
    for (const auto& b : reservation.token_buckets) {
        // As PolicyState: released gives all back; settled gives back what was not used.
        const int64_t give = released ? b.taken : usage ? b.taken - usage->total() : 0;
        argv.push_back(str(b.per_minute));
        argv.push_back(str(give));
    }
    return argv;
}

std::vector<std::string> add_usage_command(const std::string& prefix, const std::string& key,
                                           int64_t day, const BudgetAmount& amount) {
    return {"EVALSHA",          add_usage_script().sha1, "1", prefix + key, str(day),
            str(amount.tokens), str(amount.cost_pico)};
}

std::vector<std::string> as_eval(std::vector<std::string> command) {
    if (command.size() >= 2 && command[0] == "EVALSHA") {
        if (const RedisScript* script = script_by_sha(command[1])) {
            command[0] = "EVAL";
            command[1] = std::string(script->source);
        }
    }
    return command;
}

}  // namespace sluice
