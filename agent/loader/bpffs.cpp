#include "agent/loader/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace sluice {
namespace {

bool is_bpffs(const std::string& path) {
    struct statfs fs {};
    return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

bool under(const std::string& path, const std::string& dir) {
    return path == dir || path.rfind(dir + "/", 0) == 0;
}

void make_dirs(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create pin directory " + dir + ": " + ec.message());
}

}  // namespace

std::string maps_pin_dir(const std::string& pin_dir) { return pin_dir + "/maps"; }
std::string links_pin_dir(const std::string& pin_dir) { return pin_dir + "/links"; }

void prepare_pin_dir(const std::string& pin_dir) {
    if (pin_dir.empty() || pin_dir.front() != '/') {
        throw std::runtime_error("pin_dir must be an absolute path, got '" + pin_dir + "'");
    }
    if (under(pin_dir, kDefaultBpffsMount) && !is_bpffs(kDefaultBpffsMount)) {
        make_dirs(kDefaultBpffsMount);
        if (::mount("bpf", kDefaultBpffsMount, "bpf", 0, "mode=0700") != 0 && errno != EBUSY) {
            throw std::runtime_error(std::string("cannot mount bpffs at ") + kDefaultBpffsMount +
                                     ": " + std::strerror(errno));
        }
    }
    make_dirs(maps_pin_dir(pin_dir));
    make_dirs(links_pin_dir(pin_dir));
    if (!is_bpffs(pin_dir)) throw std::runtime_error("pin_dir " + pin_dir + " is not on a bpffs");
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        names.push_back(it->path().filename().string());
    }
    return names;
}

}  // namespace sluice
