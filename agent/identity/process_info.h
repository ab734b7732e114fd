// What /proc says about a process at the moment we ask. Read at connection time: the kernel
// record names the tgid, and the process may already be gone (then we fall back to the
// kernel's comm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

struct ProcessInfo {
    std::string exe;      // readlink of /proc/<tgid>/exe; "" if unreadable (kernel thread, EACCES)
    std::string comm;     // /proc/<tgid>/comm without the newline
    std::string cmdline;  // argv joined by spaces, cut at kMaxCmdlineBytes
    std::string cgroup_path;  // the cgroup2 ("0::") line of /proc/<tgid>/cgroup, "" if none
};

// argv can be megabytes (long generated command lines); audit records only need the start.
constexpr size_t kMaxCmdlineBytes = 4096;

// nullopt if /proc/<tgid> does not exist (the process has exited and been reaped).
std::optional<ProcessInfo> read_process(uint32_t tgid, std::string_view proc_root = "/proc");

// Pure helpers, exposed for tests.
// NULs between arguments become spaces; the trailing NUL and anything past `max_bytes` go.
// Credentials on the command line are replaced by [REDACTED].
std::string format_cmdline(std::string_view raw, size_t max_bytes = kMaxCmdlineBytes);
// Replaces bearer tokens, api-key values and OpenAI-style keys (sk-...) with [REDACTED].
std::string redact_credentials(std::string text);
// The path of the unified hierarchy from the text of /proc/<pid>/cgroup ("0::/x.slice/y").
std::string parse_proc_cgroup(std::string_view text);

}  // namespace sluice
