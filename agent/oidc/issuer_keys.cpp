#include "agent/oidc/issuer_keys.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/oidc/oidc_limits.h"

namespace sluice {
namespace {

std::string read_small_file(const std::string& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw JwksError(std::string("cannot read file: ") + std::strerror(errno));
    std::string text;
    char buf[16 * 1024];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<std::size_t>(in.gcount()));
        if (text.size() > max_bytes)
            throw JwksError("file is larger than " + std::to_string(max_bytes) + " bytes");
    }
    if (in.bad()) throw JwksError("cannot read file");
    return text;
}

void log_skipped_keys(const std::string& issuer, const JwkSet& keys) {
    for (const std::string& why : keys.skipped()) {
        spdlog::warn("oidc {}: ignoring {}", issuer, why);
    }
}

}  // namespace

IssuerKeys::IssuerKeys(const OidcIssuerConfig& config, HttpsGetter https_get,
                       IssuerKeyTiming timing)
    : config_(config),
      https_get_(https_get ? std::move(https_get) : HttpsGetter(sluice::https_get)),
      timing_(timing),
      keys_(std::make_shared<const JwkSet>()) {
    if (!remote()) reload_file_if_changed(true);
}

std::shared_ptr<const JwkSet> IssuerKeys::keys() {
    // One stat per request is noise next to a TLS handshake, and it means a rotated key file
    // takes effect on the very next request.
    if (!remote()) reload_file_if_changed(false);
    std::lock_guard lock(mutex_);
    return keys_;
}

bool IssuerKeys::loaded() const {
    std::lock_guard lock(mutex_);
    return loaded_at_.has_value();
}

void IssuerKeys::install(std::shared_ptr<const JwkSet> keys) {
    std::lock_guard lock(mutex_);
    keys_ = std::move(keys);
    loaded_at_ = std::chrono::system_clock::now();
    last_error_.clear();
}

void IssuerKeys::reload_file_if_changed(bool at_startup) {
    std::lock_guard file_lock(file_mutex_);
    std::optional<FileStamp> stamp = stamp_file(config_.jwks_file);
    if (!at_startup && file_seen_ && stamp == file_stamp_) return;
    file_seen_ = true;
    file_stamp_ = stamp;  // a bad file is reported once, not on every request
    try {
        auto keys = std::make_shared<const JwkSet>(
            parse_jwks(read_small_file(config_.jwks_file, oidc_limits::kMaxJwksBytes)));
        log_skipped_keys(config_.issuer, *keys);
        install(std::move(keys));
        if (!at_startup)
            spdlog::info("oidc {}: reloaded keys from {}", config_.issuer, config_.jwks_file);
    } catch (const JwksError& e) {
        const std::string line =
            "oidc issuer " + config_.issuer + ": jwks_file " + config_.jwks_file + ": " + e.what();
        if (at_startup) throw OidcSetupError(line);
        spdlog::warn("{}; keeping the previous keys", line);
        std::lock_guard lock(mutex_);
        last_error_ = e.what();
    }
}

bool IssuerKeys::request_refresh_for_unknown_kid(SteadyTime now) {
    std::lock_guard lock(mutex_);
    if (fetch_requested_ || fetch_in_flight_) return true;
    // A fetch due anyway (the very first one, a retry after failure) is joined without using
    // up the unknown-kid allowance.
    if (now >= next_fetch_) {
        fetch_requested_ = true;
        return true;
    }
    if (last_unknown_kid_fetch_ &&
        now - *last_unknown_kid_fetch_ < timing_.unknown_kid_refresh_interval) {
        return false;
    }
    last_unknown_kid_fetch_ = now;
    fetch_requested_ = true;
    return true;
}

uint64_t IssuerKeys::finished_fetches() const {
    std::lock_guard lock(mutex_);
    return finished_fetches_;
}

void IssuerKeys::call_after_fetch(uint64_t seen, std::function<void()> callback) {
    {
        std::lock_guard lock(mutex_);
        if (finished_fetches_ <= seen) {
            waiters_.emplace_back(seen, std::move(callback));
            return;
        }
    }
    callback();
}

bool IssuerKeys::fetch_due(SteadyTime now) const {
    std::lock_guard lock(mutex_);
    return fetch_requested_ || now >= next_fetch_;
}

IssuerKeys::SteadyTime IssuerKeys::next_fetch_due() const {
    std::lock_guard lock(mutex_);
    return fetch_requested_ ? SteadyTime{} : next_fetch_;
}

std::string IssuerKeys::discover_jwks_uri() {
    // OpenID Connect Discovery 1.0 §4: <issuer>/.well-known/openid-configuration, and the
    // document's "issuer" must be exactly the one we asked for (§4.3).
    std::string base = config_.issuer;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string url = base + "/.well-known/openid-configuration";
    HttpsFetchOptions options{config_.ca_file, oidc_limits::kMaxDiscoveryBytes,
                              timing_.fetch_deadline};
    const std::string text = https_get_(url, options);
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        throw JwksError("discovery document " + url + " is not a JSON object");
    if (!doc.contains("issuer") || doc["issuer"] != config_.issuer)
        throw JwksError("discovery document " + url + " names another issuer");
    if (!doc.contains("jwks_uri") || !doc["jwks_uri"].is_string() ||
        !parse_https_url(doc["jwks_uri"].get<std::string>())) {
        throw JwksError("discovery document " + url + " has no https jwks_uri");
    }
    return doc["jwks_uri"].get<std::string>();
}

std::string IssuerKeys::fetch_jwks_document() {
    std::string uri = config_.jwks_uri;
    if (uri.empty()) {
        {
            std::lock_guard lock(mutex_);
            uri = discovered_jwks_uri_;
        }
        if (uri.empty()) {
            uri = discover_jwks_uri();
            std::lock_guard lock(mutex_);
            discovered_jwks_uri_ = uri;
        }
    }
    HttpsFetchOptions options{config_.ca_file, oidc_limits::kMaxJwksBytes, timing_.fetch_deadline};
    try {
        return https_get_(uri, options);
    } catch (const HttpsFetchError&) {
        // The issuer may have moved its keys; look again next time.
        std::lock_guard lock(mutex_);
        discovered_jwks_uri_.clear();
        throw;
    }
}

void IssuerKeys::fetch_now(SteadyTime now) {
    {
        std::lock_guard lock(mutex_);
        fetch_requested_ = false;
        fetch_in_flight_ = true;
    }
    bool ok = false;
    std::string error;
    try {
        auto keys = std::make_shared<const JwkSet>(parse_jwks(fetch_jwks_document()));
        log_skipped_keys(config_.issuer, *keys);
        spdlog::info("oidc {}: loaded {} signing key(s)", config_.issuer, keys->keys().size());
        install(std::move(keys));
        ok = true;
    } catch (const std::exception& e) {
        error = e.what();
        spdlog::warn("oidc {}: key refresh failed ({}): {}", config_.issuer,
                     loaded() ? "keeping the previous keys" : "no keys yet; its tokens are refused",
                     error);
    }
    std::vector<std::function<void()>> ready;
    {
        std::lock_guard lock(mutex_);
        if (!ok) last_error_ = error;
        fetch_in_flight_ = false;
        ++finished_fetches_;
        next_fetch_ = now + (ok ? timing_.refresh_interval
                                : std::min(timing_.retry_after_failure, timing_.refresh_interval));
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            if (it->first < finished_fetches_) {
                ready.push_back(std::move(it->second));
                it = waiters_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& callback : ready) callback();
}

std::string IssuerKeys::source_description() const {
    if (!config_.jwks_file.empty()) return config_.jwks_file;
    if (!config_.jwks_uri.empty()) return config_.jwks_uri;
    return "discovery: " + (discovered_jwks_uri_.empty() ? config_.issuer : discovered_jwks_uri_);
}

OidcIssuerStatus IssuerKeys::status() const {
    std::lock_guard lock(mutex_);
    OidcIssuerStatus out;
    out.issuer = config_.issuer;
    out.source = source_description();
    out.keys = keys_->keys().size();
    out.loaded_at = loaded_at_;
    out.last_error = last_error_;
    return out;
}

}  // namespace sluice
