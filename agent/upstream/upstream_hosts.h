// Each intercepted host's upstream: its own real key, its own trust (the system store plus the
// host's ca_file) and, in each proxy worker, its own connection pool. A key is only ever sent
// to the host it was configured for: a host without an `upstream` entry has no key at all, and
// its requests are refused with 503 upstream_not_configured.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config/config.h"
#include "agent/upstream/api_key_store.h"

namespace sluice {

struct UpstreamHost {
    UpstreamHost(std::string name, const UpstreamConfig& config);

    const std::string name;
    const UpstreamConfig config;
    ApiKeyStore api_keys;
    // Never null; shared by every worker's pool for this host.
    const std::shared_ptr<SSL_CTX> client_context;
};

class UpstreamHosts {
public:
    // One entry per `upstream` host of the config. Throws std::runtime_error naming the host
    // when its ca_file cannot be loaded. Keys are read by reload(), not here.
    explicit UpstreamHosts(const Config& config);

    // The host's upstream, or nullptr when the config gives it none.
    UpstreamHost* find(std::string_view host);
    const std::vector<std::unique_ptr<UpstreamHost>>& hosts() const { return hosts_; }

    // Re-reads every key file; one line per host for the log and `sluicectl reload`.
    std::string reload();
    // Re-reads the key files that changed; true if any did.
    bool reload_if_changed();
    bool all_keys_loaded() const;
    // For `sluicectl status`: each host's key file, whether its key is loaded and why not.
    nlohmann::json status_json() const;

private:
    std::vector<std::unique_ptr<UpstreamHost>> hosts_;
};

}  // namespace sluice
