// Per-request metrics, fed with each audit record as it is written (the audit already holds
// every fact a metric needs: decision, status, endpoint, model, usage, latency), so the data
// path gains no second bookkeeping. Label sets are bounded: the endpoint is one of OpenAI's
// known paths or "other", the model one of the first kMaxModels seen or "other", and identity
// never becomes a label (a user per label would grow without bound).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

#include "agent/audit/audit_record.h"
#include "agent/metrics/prometheus_text.h"

namespace sluice {

class RequestMetrics {
public:
    static constexpr std::size_t kMaxModels = 64;

    // Called on the proxy thread for every audit record; one short lock.
    void observe(const AuditRecord& record);
    // Appends sluice_requests_total, latency histograms, tokens and connection kinds.
    void render(PrometheusText& out) const;

private:
    std::string_view model_label(const std::string& model);  // under mutex_

    mutable std::mutex mutex_;
    // decision, status, endpoint, model
    std::map<std::tuple<std::string, unsigned, std::string, std::string>, uint64_t> requests_;
    std::map<std::string, HistogramValues> latency_;                  // by endpoint
    std::map<std::string, HistogramValues> upstream_ttfb_;            // by endpoint
    std::map<std::pair<std::string, std::string>, uint64_t> tokens_;  // model, direction
    std::map<std::string, uint64_t> events_;                          // other record kinds
    std::set<std::string, std::less<>> models_;
};

// The endpoint label for a request path: a known OpenAI endpoint ("/v1/files/{id}" for ids),
// else "other".
std::string endpoint_label(std::string_view path);

}  // namespace sluice
