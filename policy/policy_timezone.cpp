#include "policy/policy_timezone.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>

namespace sluice {

namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

bool is_utc_name(std::string_view zone) {
    return zone == "UTC" || zone == "Etc/UTC" || zone == "GMT" || zone == "Etc/GMT" ||
           zone == "Z" || zone == "Etc/Universal" || zone == "Universal" || zone == "Zulu";
}

// Reads "hh[:mm[:ss]]" at `pos`; returns seconds or nullopt. Hours up to `max_hours`.
std::optional<int32_t> read_hms(std::string_view text, size_t& pos, int max_hours) {
    int32_t parts[3] = {0, 0, 0};
    for (int part = 0; part < 3; ++part) {
        if (part > 0) {
            if (pos >= text.size() || text[pos] != ':') break;
            ++pos;
        }
        size_t start = pos;
        while (pos < text.size() && pos - start < 3 && text[pos] >= '0' && text[pos] <= '9') ++pos;
        if (pos == start) return std::nullopt;
        int32_t value = 0;
        std::from_chars(text.data() + start, text.data() + pos, value);
        parts[part] = value;
    }
    if (parts[0] > max_hours || parts[1] > 59 || parts[2] > 59) return std::nullopt;
    return parts[0] * 3600 + parts[1] * 60 + parts[2];
}

}  // namespace

std::optional<seconds> parse_fixed_offset(std::string_view zone) {
    if (is_utc_name(zone)) return seconds{0};
    if (zone.starts_with("UTC") || zone.starts_with("GMT")) zone.remove_prefix(3);
    if (zone.empty() || (zone[0] != '+' && zone[0] != '-')) return std::nullopt;
    int sign = zone[0] == '-' ? -1 : 1;
    size_t pos = 1;
    auto value = read_hms(zone, pos, 14);
    if (!value || pos != zone.size()) return std::nullopt;
    return seconds{sign * *value};
}

UtcOffsetResolver fixed_offset_resolver(std::map<std::string, seconds, std::less<>> extra_zones) {
    return [zones = std::move(extra_zones)](std::string_view zone,
                                            sys_seconds) -> std::optional<seconds> {
        if (auto it = zones.find(zone); it != zones.end()) return it->second;
        return parse_fixed_offset(zone);
    };
}

int64_t local_day(sys_seconds instant, seconds utc_offset) {
    auto local = instant.time_since_epoch().count() + utc_offset.count();
    return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

std::optional<sys_seconds> next_local_midnight(const UtcOffsetResolver& resolver,
                                               std::string_view zone, sys_seconds instant) {
    auto offset = resolver(zone, instant);
    if (!offset) return std::nullopt;
    int64_t next_day = local_day(instant, *offset) + 1;
    // Guess with today's offset, then correct with the offset in force at the guess (DST).
    sys_seconds guess{seconds{next_day * 86400 - offset->count()}};
    for (int i = 0; i < 2; ++i) {
        auto at_guess = resolver(zone, guess);
        if (!at_guess) return std::nullopt;
        sys_seconds corrected{seconds{next_day * 86400 - at_guess->count()}};
        if (corrected == guess) break;
        guess = corrected;
    }
    if (guess <= instant) guess = instant + seconds{1};
    return guess;
}

// ---- POSIX TZ rules (the TZif footer) ----

namespace {

// Skips a zone abbreviation: letters, or <...> quoted.
bool skip_name(std::string_view text, size_t& pos) {
    if (pos < text.size() && text[pos] == '<') {
        auto close = text.find('>', pos);
        if (close == std::string_view::npos) return false;
        pos = close + 1;
        return true;
    }
    size_t start = pos;
    while (pos < text.size() &&
           ((text[pos] >= 'A' && text[pos] <= 'Z') || (text[pos] >= 'a' && text[pos] <= 'z')))
        ++pos;
    return pos - start >= 3;
}

// A POSIX offset is west-positive: "CET-1" is UTC+1. Returns the east-positive UTC offset.
std::optional<int32_t> read_posix_offset(std::string_view text, size_t& pos) {
    int sign = 1;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        if (text[pos] == '-') sign = -1;
        ++pos;
    }
    auto value = read_hms(text, pos, 24);
    if (!value) return std::nullopt;
    return -sign * *value;
}

std::optional<int> read_int(std::string_view text, size_t& pos) {
    size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start || pos - start > 3) return std::nullopt;
    int value = 0;
    std::from_chars(text.data() + start, text.data() + pos, value);
    return value;
}

// Encodes Jn as month 0 / week -1, and n as month 0 / week -2, day in `weekday`.
std::optional<TzifZone::PosixRule::When> read_when(std::string_view text, size_t& pos) {
    TzifZone::PosixRule::When when;
    if (pos < text.size() && text[pos] == 'M') {
        ++pos;
        auto month = read_int(text, pos);
        if (!month || pos >= text.size() || text[pos++] != '.') return std::nullopt;
        auto week = read_int(text, pos);
        if (!week || pos >= text.size() || text[pos++] != '.') return std::nullopt;
        auto weekday = read_int(text, pos);
        if (!weekday || *month < 1 || *month > 12 || *week < 1 || *week > 5 || *weekday > 6)
            return std::nullopt;
        when.month = *month;
        when.week = *week;
        when.weekday = *weekday;
    } else {
        bool julian = pos < text.size() && text[pos] == 'J';
        if (julian) ++pos;
        auto day = read_int(text, pos);
        if (!day || *day > 365 || (julian && *day < 1)) return std::nullopt;
        when.week = julian ? -1 : -2;
        when.weekday = *day;
    }
    if (pos < text.size() && text[pos] == '/') {
        ++pos;
        int sign = 1;
        if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
            if (text[pos] == '-') sign = -1;
            ++pos;
        }
        auto value = read_hms(text, pos, 167);
        if (!value) return std::nullopt;
        when.time_s = sign * *value;
    }
    return when;
}

// Local midnight (as seconds since the epoch, local clock) of the rule's day in `year`.
int64_t rule_day_start(const TzifZone::PosixRule::When& when, int year) {
    using namespace std::chrono;
    if (when.week == -1 || when.week == -2) {
        int day = when.weekday;  // Jn: 1..365 without Feb 29; n: 0..365
        if (when.week == -1) {
            bool leap = year_month_day{std::chrono::year{year} / February / 29}.ok();
            day -= 1;
            if (leap && day >= 59) day += 1;
        }
        sys_days first{std::chrono::year{year} / January / 1};
        return (first + days{day}).time_since_epoch().count() * 86400LL;
    }
    sys_days first{std::chrono::year{year} / std::chrono::month{static_cast<unsigned>(when.month)} /
                   1};
    auto first_weekday = weekday{first}.c_encoding();
    int day = (when.weekday - static_cast<int>(first_weekday) + 7) % 7 + (when.week - 1) * 7;
    auto month_last = year_month_day_last{std::chrono::year{year} /
                                          std::chrono::month{static_cast<unsigned>(when.month)} /
                                          std::chrono::last};
    int month_days = static_cast<int>(static_cast<unsigned>(month_last.day()));
    while (day >= month_days) day -= 7;
    return (first + days{day}).time_since_epoch().count() * 86400LL;
}

int32_t footer_offset(const TzifZone::PosixRule& rule, int64_t utc) {
    if (!rule.has_dst) return rule.std_offset_s;
    using namespace std::chrono;
    auto local_days =
        sys_days{days{local_day(sys_seconds{seconds{utc}}, seconds{rule.std_offset_s})}};
    int year = static_cast<int>(year_month_day{local_days}.year());
    // The start rule is written in standard time, the end rule in daylight time.
    int64_t start = rule_day_start(rule.start, year) + rule.start.time_s - rule.std_offset_s;
    int64_t end = rule_day_start(rule.end, year) + rule.end.time_s - rule.dst_offset_s;
    bool dst = start < end ? (utc >= start && utc < end) : !(utc >= end && utc < start);
    return dst ? rule.dst_offset_s : rule.std_offset_s;
}

uint32_t read_be32(std::string_view bytes, size_t pos) {
    return (static_cast<uint32_t>(static_cast<unsigned char>(bytes[pos])) << 24) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[pos + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<unsigned char>(bytes[pos + 2])) << 8) |
           static_cast<uint32_t>(static_cast<unsigned char>(bytes[pos + 3]));
}

int64_t read_be64(std::string_view bytes, size_t pos) {
    return static_cast<int64_t>((static_cast<uint64_t>(read_be32(bytes, pos)) << 32) |
                                read_be32(bytes, pos + 4));
}

struct TzifCounts {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

constexpr size_t kTzifHeaderBytes = 44;

std::optional<TzifCounts> read_header(std::string_view bytes, size_t pos) {
    if (bytes.size() < pos + kTzifHeaderBytes || bytes.substr(pos, 4) != "TZif")
        return std::nullopt;
    TzifCounts c{};
    c.isutcnt = read_be32(bytes, pos + 20);
    c.isstdcnt = read_be32(bytes, pos + 24);
    c.leapcnt = read_be32(bytes, pos + 28);
    c.timecnt = read_be32(bytes, pos + 32);
    c.typecnt = read_be32(bytes, pos + 36);
    c.charcnt = read_be32(bytes, pos + 40);
    // tzdata files are a few KiB; refuse absurd counts before multiplying.
    constexpr uint32_t kMaxCount = 1u << 20;
    if (c.typecnt == 0 || c.timecnt > kMaxCount || c.typecnt > 256 || c.leapcnt > kMaxCount ||
        c.charcnt > kMaxCount || c.isutcnt > 256 || c.isstdcnt > 256)
        return std::nullopt;
    return c;
}

size_t data_block_bytes(const TzifCounts& c, size_t time_bytes) {
    return c.timecnt * time_bytes + c.timecnt + c.typecnt * 6 + c.charcnt +
           c.leapcnt * (time_bytes + 4) + c.isstdcnt + c.isutcnt;
}

}  // namespace

std::optional<TzifZone::PosixRule> parse_posix_tz(std::string_view text) {
    TzifZone::PosixRule rule;
    size_t pos = 0;
    if (!skip_name(text, pos)) return std::nullopt;
    auto std_offset = read_posix_offset(text, pos);
    if (!std_offset) return std::nullopt;
    rule.std_offset_s = *std_offset;
    if (pos == text.size()) return rule;
    if (!skip_name(text, pos)) return std::nullopt;
    rule.has_dst = true;
    rule.dst_offset_s = rule.std_offset_s + 3600;
    if (pos < text.size() && text[pos] != ',') {
        auto dst_offset = read_posix_offset(text, pos);
        if (!dst_offset) return std::nullopt;
        rule.dst_offset_s = *dst_offset;
    }
    if (pos >= text.size() || text[pos++] != ',') return std::nullopt;
    auto start = read_when(text, pos);
    if (!start || pos >= text.size() || text[pos++] != ',') return std::nullopt;
    auto end = read_when(text, pos);
    if (!end || pos != text.size()) return std::nullopt;
    rule.start = *start;
    rule.end = *end;
    return rule;
}

std::optional<TzifZone> parse_tzif(std::string_view bytes) {
    auto v1 = read_header(bytes, 0);
    if (!v1) return std::nullopt;
    char version = bytes[4];
    size_t time_bytes = 4;
    size_t pos = kTzifHeaderBytes;
    TzifCounts counts = *v1;
    if (version != '\0') {
        // Version 2+: skip the 32-bit block, use the 64-bit one that follows.
        size_t second = pos + data_block_bytes(*v1, 4);
        auto v2 = read_header(bytes, second);
        if (!v2) return std::nullopt;
        counts = *v2;
        time_bytes = 8;
        pos = second + kTzifHeaderBytes;
    }
    if (bytes.size() < pos + data_block_bytes(counts, time_bytes)) return std::nullopt;

    TzifZone zone;
    size_t times_at = pos;
    size_t indices_at = times_at + counts.timecnt * time_bytes;
    size_t types_at = indices_at + counts.timecnt;
    std::vector<int32_t> type_offsets(counts.typecnt);
    for (uint32_t i = 0; i < counts.typecnt; ++i)
        type_offsets[i] = static_cast<int32_t>(read_be32(bytes, types_at + i * 6));
    zone.initial_offset_s = type_offsets[0];
    zone.transitions.reserve(counts.timecnt);
    for (uint32_t i = 0; i < counts.timecnt; ++i) {
        int64_t at = time_bytes == 8 ? read_be64(bytes, times_at + i * 8)
                                     : static_cast<int32_t>(read_be32(bytes, times_at + i * 4));
        auto index = static_cast<unsigned char>(bytes[indices_at + i]);
        if (index >= counts.typecnt) return std::nullopt;
        if (!zone.transitions.empty() && at <= zone.transitions.back().at) return std::nullopt;
        zone.transitions.push_back({at, type_offsets[index]});
    }
    if (time_bytes == 8) {
        size_t footer_at = pos + data_block_bytes(counts, 8);
        if (footer_at < bytes.size() && bytes[footer_at] == '\n') {
            auto close = bytes.find('\n', footer_at + 1);
            if (close != std::string_view::npos && close > footer_at + 1)
                zone.footer = parse_posix_tz(bytes.substr(footer_at + 1, close - footer_at - 1));
        }
    }
    return zone;
}

seconds TzifZone::offset_at(sys_seconds instant) const {
    int64_t t = instant.time_since_epoch().count();
    if (transitions.empty() || t < transitions.front().at) {
        if (transitions.empty() && footer) return seconds{footer_offset(*footer, t)};
        return seconds{initial_offset_s};
    }
    if (footer && t >= transitions.back().at) return seconds{footer_offset(*footer, t)};
    auto it = std::upper_bound(transitions.begin(), transitions.end(), t,
                               [](int64_t value, const Transition& tr) { return value < tr.at; });
    return seconds{std::prev(it)->offset_s};
}

UtcOffsetResolver tzif_resolver(
    std::function<std::optional<std::string>(std::string_view zone)> load) {
    struct Cache {
        std::mutex mutex;
        std::map<std::string, std::optional<TzifZone>, std::less<>> zones;
    };
    auto cache = std::make_shared<Cache>();
    return [cache, load = std::move(load)](std::string_view zone,
                                           sys_seconds instant) -> std::optional<seconds> {
        if (auto fixed = parse_fixed_offset(zone)) return fixed;
        std::lock_guard lock(cache->mutex);
        auto it = cache->zones.find(zone);
        if (it == cache->zones.end()) {
            std::optional<TzifZone> parsed;
            if (auto bytes = load(zone)) parsed = parse_tzif(*bytes);
            it = cache->zones.emplace(std::string(zone), std::move(parsed)).first;
        }
        if (!it->second) return std::nullopt;
        return it->second->offset_at(instant);
    };
}

}  // namespace sluice
