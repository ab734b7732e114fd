#include "agent/identity/process_info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include "agent/identity/exe_trust.h"
#include "policy/masking/masking_config.h"
#include "policy/masking/text_masker.h"

namespace sluice {
namespace {

// Reads at most `max_bytes` of a /proc file; "" on any failure (the process may exit while we
// read, which is normal and not an error worth more than an empty field).
std::string read_small_file(const std::string& path, size_t max_bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    std::string out;
    char buf[4096];
    while (out.size() < max_bytes) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    if (out.size() > max_bytes) out.resize(max_bytes);
    return out;
}

}  // namespace

std::string format_cmdline(std::string_view raw, size_t max_bytes) {
    if (raw.size() > max_bytes) raw = raw.substr(0, max_bytes);
    std::string out(raw);
    while (!out.empty() && out.back() == '\0') out.pop_back();
    for (char& c : out) {
        if (c == '\0') c = ' ';
    }
    return redact_credentials(out);
}

std::string redact_credentials(std::string text) {
    // Command lines are world-readable in /proc but the audit outlives the process: keys typed
    // on them (curl -H "Authorization: Bearer ...", --api-key sk-...) must not be copied there.
    static const RE2 kAfterMarker(
        R"((?i)(authorization:\s*(?:[a-z]+\s+)?|bearer\s+|api[-_]key[:=\s]\s*)[^\s"']+)");
    static const RE2 kOpenAiKey(R"(\bsk-[A-Za-z0-9_\-]{3,})");
    RE2::GlobalReplace(&text, kAfterMarker, "\\1[REDACTED]");
    RE2::GlobalReplace(&text, kOpenAiKey, "[REDACTED]");
    // Then every secret the masking recognizers know (AWS keys, GitHub and Slack tokens, JWTs,
    // PEM blocks, ...) wherever it stands. One masker per thread: it counts what it masks.
    static const auto kSecrets = masking::parse_masking(
        YAML::Load("[{entities: [secrets], action: redact}]"), "cmdline", {});
    thread_local masking::TokenVault vault;
    thread_local masking::MaskStats stats;
    thread_local masking::TextMasker masker(*kSecrets, "cmdline", vault, stats);
    if (!masker.mask(text, masking::Direction::request)) return "[REDACTED]";  // fail closed
    return text;
}

std::string parse_proc_cgroup(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        const std::string_view line = text.substr(pos, eol - pos);
        if (line.substr(0, 3) == "0::") return std::string(line.substr(3));
        pos = eol + 1;
    }
    return "";
}

std::optional<uint64_t> parse_proc_stat_start_time(std::string_view text) {
    const size_t close = text.rfind(')');
    if (close == std::string_view::npos) return std::nullopt;
    // After ") " come field 3 (state) onwards; starttime is field 22, the 20th of those.
    size_t pos = close + 1;
    for (int field = 3; field <= 22; ++field) {
        while (pos < text.size() && text[pos] == ' ') ++pos;
        const size_t end = text.find(' ', pos);
        const std::string_view value =
            text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (value.empty()) return std::nullopt;
        if (field == 22) {
            uint64_t ticks = 0;
            for (char c : value) {
                if (c < '0' || c > '9') return std::nullopt;
                ticks = ticks * 10 + static_cast<uint64_t>(c - '0');
            }
            return ticks;
        }
        if (end == std::string_view::npos) return std::nullopt;
        pos = end;
    }
    return std::nullopt;
}

std::optional<uint64_t> read_process_start_time(uint32_t tgid, std::string_view proc_root) {
    const std::string path = std::string(proc_root) + "/" + std::to_string(tgid) + "/stat";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    // /proc/<pid>/stat is well under 1 KiB (comm is at most 64 bytes) and procfs returns it
    // in one read: no second read for EOF.
    char buf[1024];
    ssize_t n;
    do {
        n = ::read(fd, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    return parse_proc_stat_start_time(std::string_view(buf, static_cast<size_t>(n)));
}

std::string read_process_exe(uint32_t tgid, std::string_view proc_root) {
    const std::string path = std::string(proc_root) + "/" + std::to_string(tgid) + "/exe";
    char exe[4096];
    const ssize_t n = ::readlink(path.c_str(), exe, sizeof exe);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof exe) return "";
    return std::string(exe, static_cast<size_t>(n));
}

std::optional<ProcessInfo> read_process(uint32_t tgid, std::string_view proc_root) {
    const std::string dir = std::string(proc_root) + "/" + std::to_string(tgid);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return std::nullopt;

    ProcessInfo info;
    info.exe = read_process_exe(tgid, proc_root);
    info.exe_trusted = !info.exe.empty() && exe_is_system_only(tgid, proc_root);

    info.comm = read_small_file(dir + "/comm", 64);
    while (!info.comm.empty() && info.comm.back() == '\n') info.comm.pop_back();
    info.cmdline = format_cmdline(read_small_file(dir + "/cmdline", kMaxCmdlineBytes));
    info.cgroup_path = parse_proc_cgroup(read_small_file(dir + "/cgroup", 64 * 1024));
    info.uid_map = parse_uid_map(read_small_file(dir + "/uid_map", 4096));
    return info;
}

std::vector<UidMapRange> parse_uid_map(std::string_view text) {
    std::vector<UidMapRange> ranges;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        const std::string line(text.substr(pos, eol - pos));
        pos = eol + 1;
        unsigned long inside = 0, outside = 0, count = 0;
        if (std::sscanf(line.c_str(), "%lu %lu %lu", &inside, &outside, &count) != 3) continue;
        ranges.push_back(UidMapRange{static_cast<uint32_t>(inside), static_cast<uint32_t>(outside),
                                     static_cast<uint32_t>(count)});
    }
    if (ranges.size() == 1 && ranges[0].inside == 0 && ranges[0].outside == 0 &&
        ranges[0].count == 4294967295u)
        ranges.clear();
    return ranges;
}

std::optional<uint32_t> uid_inside(const std::vector<UidMapRange>& map, uint32_t host_uid) {
    for (const UidMapRange& range : map)
        if (host_uid >= range.outside && host_uid - range.outside < range.count)
            return range.inside + (host_uid - range.outside);
    return std::nullopt;
}

}  // namespace sluice
