#include "agent/upstream/api_key_store.h"

#include <cstdio>
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
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(presented.data()), presented.size(), digest);
    std::string out = "sha256:";
    char hex[3];
    for (int i = 0; i < 6; ++i) {
        std::snprintf(hex, sizeof hex, "%02x", digest[i]);
        out += hex;
    }
    return out;
}

}  // namespace sluice
