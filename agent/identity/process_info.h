// What /proc says about a process at the moment we ask. Read at connection time: the kernel
// record names the tgid, and the process may already be gone (then we fall back to the
// kernel's comm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// One line of /proc/<pid>/uid_map: `count` ids from `inside` in the process's user namespace
// are `outside` and on in its parent's (the initial namespace's, for one level).
struct UidMapRange {
    uint32_t inside = 0;
    uint32_t outside = 0;
    uint32_t count = 0;
};

struct ProcessInfo {
    std::string exe;      // readlink of /proc/<tgid>/exe; "" if unreadable (kernel thread, EACCES)
    std::string comm;     // /proc/<tgid>/comm without the newline
    std::string cmdline;  // argv joined by spaces, cut at kMaxCmdlineBytes
    std::string cgroup_path;   // the cgroup2 ("0::") line of /proc/<tgid>/cgroup, "" if none
    bool exe_trusted = false;  // exe_trust.h: only root could have put that file there
    // /proc/<tgid>/uid_map when the process is in a user namespace of its own (rootless
    // containers); empty in the initial one, whose map is the identity.
    std::vector<UidMapRange> uid_map;
};

// The uid `host_uid` is inside the user namespace `map` describes; nullopt when it is not
// mapped there (it shows as the overflow uid inside).
std::optional<uint32_t> uid_inside(const std::vector<UidMapRange>& map, uint32_t host_uid);
// The ranges of a uid_map text; empty for the initial namespace's "0 0 4294967295".
std::vector<UidMapRange> parse_uid_map(std::string_view text);

// argv can be megabytes (long generated command lines); audit records only need the start.
constexpr size_t kMaxCmdlineBytes = 4096;

// nullopt if /proc/<tgid> does not exist (the process has exited and been reaped).
std::optional<ProcessInfo> read_process(uint32_t tgid, std::string_view proc_root = "/proc");

// The process's start time (field 22 of /proc/<tgid>/stat, clock ticks after boot): with the
// tgid it names one process for the life of the host, since a reused pid starts later. nullopt
// if the process is gone or the file is unreadable. One open/read/close.
std::optional<uint64_t> read_process_start_time(uint32_t tgid,
                                                std::string_view proc_root = "/proc");
// readlink of /proc/<tgid>/exe; "" if unreadable. One syscall.
std::string read_process_exe(uint32_t tgid, std::string_view proc_root = "/proc");

// Pure helpers, exposed for tests.
// NULs between arguments become spaces; the trailing NUL and anything past `max_bytes` go.
// Credentials on the command line are replaced by [REDACTED].
std::string format_cmdline(std::string_view raw, size_t max_bytes = kMaxCmdlineBytes);
// Replaces bearer tokens, api-key values and OpenAI-style keys (sk-...) with [REDACTED].
std::string redact_credentials(std::string text);
// Field 22 (starttime) of the text of /proc/<pid>/stat; comm (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
std::optional<uint64_t> parse_proc_stat_start_time(std::string_view text);
// The path of the unified hierarchy from the text of /proc/<pid>/cgroup ("0::/x.slice/y").
std::string parse_proc_cgroup(std::string_view text);

}  // namespace sluice
