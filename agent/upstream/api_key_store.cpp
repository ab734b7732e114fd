#include "agent/upstream/api_key_store.h"

#include <fstream>
#include <sstream>

#include <openssl/sha.h>

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
    std::ifstream in(path_);
    if (!in) {
        set_key(std::shared_ptr<const std::string>());
        return "api key file " + path_ + " is not readable; requests will get 503 until it is";
    }
    std::stringstream content;
    content << in.rdbuf();
    std::string key = trim(content.str());
    if (key.empty() || key.find_first_of(" \t\r\n") != std::string::npos) {
        set_key(std::shared_ptr<const std::string>());
        return "api key file " + path_ + " does not hold one key; requests will get 503 until it does";
    }
    set_key(std::make_shared<const std::string>(std::move(key)));
    return "api key loaded from " + path_;
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
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), digest);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256:";
    for (int i = 0; i < 6; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xf]);
    }
    last_presented.assign(presented);
    last_fingerprint = out;
    return out;
}

}  // namespace sluice
