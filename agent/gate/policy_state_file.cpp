#include "agent/gate/policy_state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice {

PolicyStateFile::PolicyStateFile(const std::string& state_dir)
    : path_(state_dir + "/policy-state.json") {}

std::string PolicyStateFile::restore(PolicyState& state) const {
    std::ifstream in(path_);
    if (!in) return "policy state: none at " + path_ + ", budgets start fresh";
    std::stringstream text;
    text << in.rdbuf();
    auto document = nlohmann::json::parse(text.str(), nullptr, false);
    std::optional<std::string> problem =
        document.is_discarded() ? std::optional<std::string>("not JSON") : state.restore(document);
    if (!problem) return "policy state restored from " + path_;
    std::error_code ec;
    std::filesystem::rename(path_, path_ + ".corrupt", ec);
    return "policy state " + path_ + " is unusable (" + *problem + "); moved aside to " + path_ +
           ".corrupt, budgets start fresh";
}

std::string PolicyStateFile::save(const PolicyState& state) {
    const std::string text = state.to_json().dump();
    if (text == last_saved_) return {};
    const std::string temporary = path_ + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "policy state: cannot write " + temporary + ": " + std::strerror(errno);
    const char* data = text.data();
    size_t left = text.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const std::string error = std::strerror(errno);
            ::close(fd);
            return "policy state: cannot write " + temporary + ": " + error;
        }
        data += n;
        left -= static_cast<size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced || ::rename(temporary.c_str(), path_.c_str()) != 0)
        return "policy state: cannot replace " + path_ + ": " + std::strerror(errno);
    last_saved_ = text;
    return {};
}

}  // namespace sluice
