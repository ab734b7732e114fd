#include "agent/metrics/request_metrics.h"

#include <array>

namespace sluice {

namespace {

// Seconds; requests range from a refused one (microseconds) to long generations (minutes).
const std::vector<double> kLatencyBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,      2.5,   5,    10,    30,   60,  300};

constexpr std::array<std::string_view, 17> kEndpoints{
    "/v1/chat/completions", "/v1/completions",  "/v1/responses",
    "/v1/embeddings",       "/v1/models",       "/v1/moderations",
    "/v1/images",           "/v1/audio",        "/v1/files",
    "/v1/batches",          "/v1/uploads",      "/v1/fine_tuning",
    "/v1/assistants",       "/v1/threads",      "/v1/vector_stores",
    "/v1/realtime",         "/v1/conversations"};

int64_t usage_field(const nlohmann::json& usage, std::initializer_list<const char*> names) {
    for (const char* name : names) {
        auto it = usage.find(name);
        if (it != usage.end() && it->is_number_integer()) return it->get<int64_t>();
    }
    return 0;
}

}  // namespace

std::string endpoint_label(std::string_view path) {
    path = path.substr(0, path.find('?'));
    for (std::string_view known : kEndpoints) {
        if (path == known) return std::string(known);
        if (path.starts_with(known) && path.size() > known.size() && path[known.size()] == '/') {
            // /v1/models/gpt-4o, /v1/files/file-abc/content: ids never become label values.
            return std::string(known) + "/…";
        }
    }
    return "other";
}

std::string_view RequestMetrics::model_label(const std::string& model) {
    if (model.empty()) return "";
    if (auto it = models_.find(model); it != models_.end()) return *it;
    if (models_.size() >= kMaxModels) return "other";
    return *models_.insert(model).first;
}

void RequestMetrics::observe(const AuditRecord& record) {
    if (record.kind == "forwarded") return;
    // Parsed before the lock: the usage object is small, and a malformed one counts nothing.
    nlohmann::json usage;
    if (record.usage) usage = nlohmann::json::parse(record.usage->json, nullptr, false);
    std::lock_guard lock(mutex_);
    if (record.kind != "request") {
        ++events_[record.kind];
        return;
    }
    const std::string endpoint = endpoint_label(record.path);
    const std::string model(model_label(record.model));
    ++requests_[{record.action, record.status, endpoint, model}];
    latency_.try_emplace(endpoint, kLatencyBounds).first->second.observe(record.latency_ms / 1000);
    if (record.upstream_status != 0 && record.upstream_ttfb_ms > 0)
        upstream_ttfb_.try_emplace(endpoint, kLatencyBounds)
            .first->second.observe(record.upstream_ttfb_ms / 1000);
    if (usage.is_object()) {
        tokens_[{model, "input"}] += usage_field(usage, {"prompt_tokens", "input_tokens"});
        tokens_[{model, "output"}] += usage_field(usage, {"completion_tokens", "output_tokens"});
    }
}

void RequestMetrics::render(PrometheusText& out) const {
    std::lock_guard lock(mutex_);
    out.family("sluice_requests_total", "counter",
               "Requests answered, by policy decision, HTTP status, endpoint and model.");
    for (const auto& [key, count] : requests_) {
        const auto& [decision, status, endpoint, model] = key;
        const std::string status_text = std::to_string(status);
        out.sample("sluice_requests_total",
                   {{"decision", decision},
                    {"status", status_text},
                    {"endpoint", endpoint},
                    {"model", model}},
                   static_cast<double>(count));
    }
    out.family("sluice_request_duration_seconds", "histogram",
               "Time from a request's head to its last answer byte, as the client saw it.");
    for (const auto& [endpoint, h] : latency_)
        out.histogram("sluice_request_duration_seconds", {{"endpoint", endpoint}}, h);
    out.family("sluice_upstream_first_byte_seconds", "histogram",
               "Time from sending a request upstream to upstream's first answer byte.");
    for (const auto& [endpoint, h] : upstream_ttfb_)
        out.histogram("sluice_upstream_first_byte_seconds", {{"endpoint", endpoint}}, h);
    out.family("sluice_tokens_total", "counter",
               "Tokens upstream reported as used, by model and direction.");
    for (const auto& [key, count] : tokens_)
        out.sample("sluice_tokens_total", {{"model", key.first}, {"direction", key.second}},
                   static_cast<double>(count));
    out.family("sluice_audit_events_total", "counter",
               "Audit records other than requests (connection, passthrough, approval, ...).");
    for (const auto& [kind, count] : events_)
        out.sample("sluice_audit_events_total", {{"kind", kind}}, static_cast<double>(count));
}

}  // namespace sluice
