// The signing keys of one trusted issuer, from its jwks_file (re-read when the file changes) or
// fetched from its jwks_uri / discovery document (refreshed by OidcAuthenticator's background
// thread). Readers get an immutable snapshot; a failed reload or fetch keeps the last good set.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/common/file_stamp.h"
#include "agent/config/config.h"
#include "agent/oidc/https_fetch.h"
#include "agent/oidc/jwks.h"

namespace sluice {

// Start-up problems (unreadable or invalid jwks_file); what() is one line naming the issuer.
class OidcSetupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OidcIssuerStatus {
    std::string issuer;
    std::string source;  // the file, the jwks_uri, or "discovery: <url>"
    std::size_t keys = 0;
    std::optional<std::chrono::system_clock::time_point> loaded_at;  // last good load
    std::string last_error;                                          // "" after a good load
};

struct IssuerKeyTiming {
    std::chrono::seconds refresh_interval{3600};
    std::chrono::seconds unknown_kid_refresh_interval{30};
    std::chrono::seconds retry_after_failure{30};
    std::chrono::milliseconds fetch_deadline{10'000};
};

class IssuerKeys {
public:
    using SteadyTime = std::chrono::steady_clock::time_point;

    // Loads a jwks_file now (throws OidcSetupError if it cannot be read or parsed); a remote
    // source starts empty and due for its first fetch.
    IssuerKeys(const OidcIssuerConfig& config, HttpsGetter https_get, IssuerKeyTiming timing);

    bool remote() const { return config_.jwks_file.empty(); }
    const OidcIssuerConfig& config() const { return config_; }

    // The current key set (never null; empty before a remote source's first good fetch).
    // For a file source, re-reads the file first if its size, mtime or inode changed.
    std::shared_ptr<const JwkSet> keys();
    // Whether a good key set has ever been loaded.
    bool loaded() const;

    // --- remote sources only ---
    // A token named a kid we do not have. Returns true if a refresh is (now) pending or under
    // way that the caller may wait for; false if one ran too recently to try again.
    bool request_refresh_for_unknown_kid(SteadyTime now);
    // Number of fetch attempts finished so far; waiters compare against it.
    uint64_t finished_fetches() const;
    // Calls `callback` once the fetch after `seen` finishes (at once if it already has).
    // Runs on the refresher thread; it must be quick and must not call back into this object.
    void call_after_fetch(uint64_t seen, std::function<void()> callback);
    bool fetch_due(SteadyTime now) const;
    SteadyTime next_fetch_due() const;
    // Fetches (discovery if needed, then the JWKS) and swaps the set in. Blocking: refresher
    // thread only. A failure keeps the last good set and is reported in status().
    void fetch_now(SteadyTime now);

    OidcIssuerStatus status() const;

private:
    void reload_file_if_changed(bool at_startup);
    std::string fetch_jwks_document();
    std::string discover_jwks_uri();
    std::string source_description() const;
    void install(std::shared_ptr<const JwkSet> keys);

    const OidcIssuerConfig config_;
    const HttpsGetter https_get_;
    const IssuerKeyTiming timing_;

    mutable std::mutex mutex_;
    std::shared_ptr<const JwkSet> keys_;                              // guarded
    std::optional<std::chrono::system_clock::time_point> loaded_at_;  // guarded
    std::string last_error_;                                          // guarded
    std::string discovered_jwks_uri_;                                 // guarded
    // Remote refresh bookkeeping, guarded.
    bool fetch_requested_ = false;
    bool fetch_in_flight_ = false;
    uint64_t finished_fetches_ = 0;
    SteadyTime next_fetch_{};  // epoch: due at once
    std::optional<SteadyTime> last_unknown_kid_fetch_;
    std::vector<std::pair<uint64_t, std::function<void()>>> waiters_;

    // File source: serializes re-reads so concurrent requests parse a changed file once.
    std::mutex file_mutex_;
    bool file_seen_ = false;               // guarded by file_mutex_
    std::optional<FileStamp> file_stamp_;  // guarded by file_mutex_; nullopt = missing
};

}  // namespace sluice
