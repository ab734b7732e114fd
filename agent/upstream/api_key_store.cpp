#include "agent/upstream/api_key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "agent/common/sha256_hex.h"

namespace sluice {

namespace {
std::string trim(std::string s) {
    const char* ws = " \t\r\n";
    s.erase(s.find_last_not_of(ws) + 1);
    s.erase(0, s.find_first_not_of(ws));
    return s;
}
}  // namespace

ApiKeyStore::ApiKeyStore(std::string path) : path_(std::move(path)) { reload(); }

void ApiKeyStore::set_key(std::shared_ptr<const std::string> key) {
    std::lock_guard lock(key_mutex_);
    key_ = std::move(key);
}

std::string ApiKeyStore::reload() {
    std::lock_guard lock(reload_mutex_);
    last_stamp_ = stamp_file(path_);
    auto refuse = [&](std::string why) {
        set_key(std::shared_ptr<const std::string>());
        set_problem(why);
        return why;
    };
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return refuse("api key file " + path_ +
                      " is not readable; requests will get 503 until it is");
    struct stat st {};
    std::string content;
    const bool stat_ok = ::fstat(fd, &st) == 0;
    // As OpenSSH refuses a private key others can read: a key every local user can copy is
    // no longer in custody, so it is not used at all (checked on the open file, not the path).
    if (stat_ok && (st.st_mode & (S_IRWXG | S_IRWXO)) == 0) {
        char buffer[4096];
        for (ssize_t n;
             (n = ::read(fd, buffer, sizeof buffer)) > 0 && content.size() < kMaxKeyFileBytes;)
            content.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!stat_ok)
        return refuse("api key file " + path_ +
                      " cannot be examined; requests will get 503 until it can");
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return refuse("api key file " + path_ + " is accessible by group or others (mode " + mode +
                      "); refusing to use it: chmod 600 it (requests get 503 until then)");
    }
    std::string key = trim(std::move(content));
    if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos)
        return refuse("api key file " + path_ +
                      " does not hold one key; requests will get 503 until it does");
    set_key(std::make_shared<const std::string>(std::move(key)));
    set_problem({});
    return "api key loaded from " + path_;
}

void ApiKeyStore::set_problem(std::string problem) {
    std::lock_guard lock(key_mutex_);
    problem_ = std::move(problem);
}

std::string ApiKeyStore::problem() const {
    std::lock_guard lock(key_mutex_);
    return problem_;
}

bool ApiKeyStore::reload_if_changed() {
    {
        std::lock_guard lock(reload_mutex_);
        if (stamp_file(path_) == last_stamp_) return false;
    }
    reload();
    return true;
}

std::string credential_fingerprint(std::string_view presented) {
    if (presented.empty()) return {};
    // A keep-alive client presents the same dummy key on every request: the last one is
    // remembered per thread, as a digest per request was a few percent of the proxy's CPU.
    thread_local std::string last_presented;
    thread_local std::string last_fingerprint;
    if (presented == last_presented) return last_fingerprint;
    const std::string out = "sha256:" + sha256_hex(presented, 6);
    last_presented.assign(presented);
    last_fingerprint = out;
    return out;
}

}  // namespace sluice
