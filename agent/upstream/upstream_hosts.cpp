#include "agent/upstream/upstream_hosts.h"

#include <stdexcept>

#include "agent/tls/upstream_tls.h"

namespace sluice {

namespace {

std::shared_ptr<SSL_CTX> client_context_for(const std::string& host, const std::string& ca_file) {
    try {
        return make_upstream_client_context(ca_file);
    } catch (const std::exception& e) {
        throw std::runtime_error("upstream " + host + ": " + e.what());
    }
}

}  // namespace

UpstreamHost::UpstreamHost(std::string name_, const UpstreamConfig& config_)
    : name(std::move(name_)),
      config(config_),
      api_keys(config_.api_key_file),
      client_context(client_context_for(name, config_.ca_file)) {}

UpstreamHosts::UpstreamHosts(const Config& config) {
    for (const auto& [host, upstream] : config.upstream)
        hosts_.push_back(std::make_unique<UpstreamHost>(host, upstream));
}

UpstreamHost* UpstreamHosts::find(std::string_view host) {
    for (const auto& entry : hosts_)
        if (entry->name == host) return entry.get();
    return nullptr;
}

std::string UpstreamHosts::reload() {
    std::string outcome;
    for (const auto& host : hosts_) {
        if (!outcome.empty()) outcome += "; ";
        outcome += host->name + ": " + host->api_keys.reload();
    }
    return outcome;
}

bool UpstreamHosts::reload_if_changed() {
    bool any = false;
    for (const auto& host : hosts_) any = host->api_keys.reload_if_changed() || any;
    return any;
}

bool UpstreamHosts::all_keys_loaded() const {
    for (const auto& host : hosts_)
        if (host->api_keys.key() == nullptr) return false;
    return !hosts_.empty();
}

nlohmann::json UpstreamHosts::status_json() const {
    nlohmann::json report = nlohmann::json::object();
    for (const auto& host : hosts_) {
        nlohmann::json entry{{"api_key_file", host->api_keys.path()},
                             {"api_key_loaded", host->api_keys.key() != nullptr}};
        if (!host->config.ca_file.empty()) entry["ca_file"] = host->config.ca_file;
        if (!host->config.connect.empty()) entry["connect"] = host->config.connect;
        if (const std::string problem = host->api_keys.problem(); !problem.empty())
            entry["api_key_problem"] = problem;
        report[host->name] = std::move(entry);
    }
    return report;
}

}  // namespace sluice
