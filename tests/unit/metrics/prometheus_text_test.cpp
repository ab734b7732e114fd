#include "agent/metrics/prometheus_text.h"

#include <gtest/gtest.h>

#include "agent/metrics/request_metrics.h"

namespace sluice {
namespace {

TEST(PrometheusText, LabelValuesAndHelpAreEscapedAsTheFormatRequires) {
    PrometheusText out;
    out.family("m_total", "counter", "a \\ help\nline");
    out.sample("m_total", {{"model", "a\"b\\c\nd"}}, 3);
    EXPECT_EQ(out.text(),
              "# HELP m_total a \\\\ help\\nline\n# TYPE m_total counter\n"
              "m_total{model=\"a\\\"b\\\\c\\nd\"} 3\n");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeAndEndWithInf) {
    HistogramValues h({0.1, 1});
    h.observe(0.05);
    h.observe(0.1);  // on the bound: counted in it (le is "less or equal")
    h.observe(0.5);
    h.observe(7.25);
    PrometheusText out;
    out.histogram("d_seconds", {{"endpoint", "/v1/x"}}, h);
    EXPECT_EQ(out.text(),
              "d_seconds_bucket{endpoint=\"/v1/x\",le=\"0.1\"} 2\n"
              "d_seconds_bucket{endpoint=\"/v1/x\",le=\"1\"} 3\n"
              "d_seconds_bucket{endpoint=\"/v1/x\",le=\"+Inf\"} 4\n"
              "d_seconds_sum{endpoint=\"/v1/x\"} 7.9\n"
              "d_seconds_count{endpoint=\"/v1/x\"} 4\n");
}

TEST(PrometheusText, NumbersAsTheFormatSpellsThem) {
    EXPECT_EQ(prometheus_number(12), "12");
    EXPECT_EQ(prometheus_number(1.0 / 0.0), "+Inf");
    EXPECT_EQ(prometheus_number(-1.0 / 0.0), "-Inf");
    EXPECT_EQ(prometheus_number(0.0 / 0.0), "NaN");
}

TEST(RequestMetrics, EndpointLabelsAreBoundedIdsNeverBecomeLabels) {
    EXPECT_EQ(endpoint_label("/v1/chat/completions"), "/v1/chat/completions");
    EXPECT_EQ(endpoint_label("/v1/chat/completions?x=1"), "/v1/chat/completions");
    EXPECT_EQ(endpoint_label("/v1/files/file-abc123/content"), "/v1/files/…");
    EXPECT_EQ(endpoint_label("/v1/models/gpt-4o"), "/v1/models/…");
    EXPECT_EQ(endpoint_label("/v1/chat/completionsX"), "other");
    EXPECT_EQ(endpoint_label("/anything/else"), "other");
}

TEST(RequestMetrics, CountsRequestsByDecisionStatusEndpointModelAndBoundsModels) {
    RequestMetrics metrics;
    AuditRecord record;
    record.path = "/v1/chat/completions";
    record.model = "gpt-4o-mini";
    record.status = 200;
    record.upstream_status = 200;
    record.latency_ms = 12;
    record.upstream_ttfb_ms = 8;
    record.usage = UsageObject{R"({"prompt_tokens":5,"completion_tokens":7,"total_tokens":12})"};
    metrics.observe(record);
    metrics.observe(record);
    record.action = "budget_exceeded";
    record.status = 429;
    record.upstream_status = 0;
    record.usage.reset();
    metrics.observe(record);
    for (size_t i = 0; i < RequestMetrics::kMaxModels + 5; ++i) {
        record.model = "m" + std::to_string(i);
        metrics.observe(record);
    }
    record.kind = "forwarded";
    metrics.observe(record);  // not a second count of the same request
    PrometheusText out;
    metrics.render(out);
    const std::string& text = out.text();
    EXPECT_NE(text.find("sluice_requests_total{decision=\"allow\",status=\"200\",endpoint=\"/v1/"
                        "chat/completions\",model=\"gpt-4o-mini\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("decision=\"budget_exceeded\",status=\"429\""), std::string::npos);
    EXPECT_NE(text.find("model=\"other\"} 6\n"), std::string::npos) << text;
    EXPECT_NE(text.find("sluice_tokens_total{model=\"gpt-4o-mini\",direction=\"output\"} 14\n"),
              std::string::npos);
    EXPECT_NE(text.find("sluice_upstream_first_byte_seconds_count{endpoint=\"/v1/chat/"
                        "completions\"} 2\n"),
              std::string::npos);
    EXPECT_NE(text.find("sluice_request_duration_seconds_count{endpoint=\"/v1/chat/"
                        "completions\"} 72\n"),
              std::string::npos)
        << text;
}

}  // namespace
}  // namespace sluice
