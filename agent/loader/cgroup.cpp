#include "agent/loader/cgroup.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sluice {
namespace {

// /proc/mounts escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(const std::string& field) {
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            const std::string octal = field.substr(i + 1, 3);
            if (octal.find_first_not_of("01234567") == std::string::npos) {
                out.push_back(static_cast<char>(std::stoi(octal, nullptr, 8)));
                i += 3;
                continue;
            }
        }
        out.push_back(field[i]);
    }
    return out;
}

constexpr int kMaxCgroupSearchDepth = 16;

}  // namespace

std::string find_cgroup2_root(const std::string& mounts_path) {
    std::ifstream mounts(mounts_path);
    if (!mounts) throw std::runtime_error("cannot read " + mounts_path);
    std::string line;
    while (std::getline(mounts, line)) {
        std::istringstream fields(line);
        std::string source, mount_point, fs_type;
        if (!(fields >> source >> mount_point >> fs_type)) continue;
        if (fs_type == "cgroup2") return unescape_mount_field(mount_point);
    }
    throw std::runtime_error("no cgroup2 file system is mounted (checked " + mounts_path + ")");
}

bool is_cgroup2_dir(const std::string& dir) {
    struct statfs fs {};
    return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

uint64_t cgroup_id_of(const std::string& cgroup_dir) {
    struct stat st {};
    if (::stat(cgroup_dir.c_str(), &st) != 0) {
        throw std::runtime_error("cannot stat cgroup " + cgroup_dir + ": " + std::strerror(errno));
    }
    return static_cast<uint64_t>(st.st_ino);
}

std::optional<std::string> find_cgroup_path(const std::string& root, uint64_t id) {
    namespace fs = std::filesystem;
    std::error_code ec;
    struct stat st {};
    if (::stat(root.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_ino) == id) return root;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it.depth() >= kMaxCgroupSearchDepth) {
            it.disable_recursion_pending();
            continue;
        }
        if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
        if (::stat(it->path().c_str(), &st) == 0 && static_cast<uint64_t>(st.st_ino) == id) {
            return it->path().string();
        }
    }
    return std::nullopt;
}

}  // namespace sluice
