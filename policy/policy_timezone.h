// Budget days roll over at local midnight of a configured IANA time zone. The policy library
// has no clock and reads no files, so the zone's UTC offset comes from an injected resolver.
//
// Wiring in the agent: pass `load_policy` a resolver that answers from the system tz database
// (read /usr/share/zoneinfo/<zone> once per zone, parse it with `parse_tzif`, cache the
// TzifZone, answer with `TzifZone::offset_at`). `tzif_resolver` below does exactly that given a
// loader function, so the agent only supplies the file read. Tests use
// `fixed_offset_resolver`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// UTC offset (local = utc + offset) of `zone` at `instant`, or nullopt when the zone is unknown.
// Must be safe to call from several threads.
using UtcOffsetResolver = std::function<std::optional<std::chrono::seconds>(
    std::string_view zone, std::chrono::sys_seconds instant)>;

// Knows "UTC", "Etc/UTC", "GMT", "Z", fixed offsets written "+05:30", "-08:00", "UTC+02",
// "UTC-03:30", and any extra names given (each with one fixed offset, no DST).
UtcOffsetResolver fixed_offset_resolver(
    std::map<std::string, std::chrono::seconds, std::less<>> extra_zones = {});

// Parses a fixed offset as above; nullopt when `zone` is not one.
std::optional<std::chrono::seconds> parse_fixed_offset(std::string_view zone);

// Days since 1970-01-01 in local time: the budget day an instant belongs to.
int64_t local_day(std::chrono::sys_seconds instant, std::chrono::seconds utc_offset);

// The first instant after `instant` at which the local day changes (local midnight), found by
// asking the resolver; nullopt when the zone is unknown. Handles offsets that change across the
// night (DST) by re-asking at the candidate.
std::optional<std::chrono::sys_seconds> next_local_midnight(const UtcOffsetResolver& resolver,
                                                            std::string_view zone,
                                                            std::chrono::sys_seconds instant);

// A compiled TZif file (RFC 8536): transitions and the POSIX TZ footer for instants after the
// last transition.
struct TzifZone {
    struct Transition {
        int64_t at;        // UTC seconds since the epoch
        int32_t offset_s;  // offset in force from `at`
    };
    std::vector<Transition> transitions;  // sorted by `at`
    int32_t initial_offset_s = 0;         // before the first transition
    // Footer rule: standard offset, and DST offset with its start/end rules when present.
    struct PosixRule {
        int32_t std_offset_s = 0;
        bool has_dst = false;
        int32_t dst_offset_s = 0;
        // Mm.w.d/time (the only form tzdata emits): month 1-12, week 1-5 (5 = last), weekday 0-6,
        // seconds after local midnight (may be negative or above 24h).
        struct When {
            int month = 0;
            int week = 0;
            int weekday = 0;
            int32_t time_s = 7200;
        } start, end;
    };
    std::optional<PosixRule> footer;

    std::chrono::seconds offset_at(std::chrono::sys_seconds instant) const;
};

// Parses TZif bytes (version 1, 2, 3 or 4); nullopt when they are not a valid TZif file.
std::optional<TzifZone> parse_tzif(std::string_view bytes);

// Parses a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" or "EST5EDT,M3.2.0,M11.1.0".
std::optional<TzifZone::PosixRule> parse_posix_tz(std::string_view text);

// A resolver backed by TZif data: `load(zone)` returns the file's bytes or nullopt (the agent
// reads /usr/share/zoneinfo/<zone>, refusing names with ".." or a leading '/'). Each zone is
// loaded once and cached; thread-safe. Fixed offsets and UTC are answered without loading.
UtcOffsetResolver tzif_resolver(
    std::function<std::optional<std::string>(std::string_view zone)> load);

}  // namespace sluice
