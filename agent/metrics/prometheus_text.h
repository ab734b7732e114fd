// Writes Prometheus's text exposition format (version 0.0.4): each family once, as
// "# HELP", "# TYPE", then its samples; label values escaped (\\, \", \n), HELP text escaped
// (\\, \n); histograms as _bucket{le=…} (cumulative, ending with +Inf), _sum and _count.
// Debian ships no C++ Prometheus client (prometheus-cpp is not packaged), hence this writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

using MetricLabels = std::vector<std::pair<std::string_view, std::string_view>>;

// A histogram's state: counts per upper bound (not cumulative), the sum and the count.
struct HistogramValues {
    std::vector<double> bounds;    // ascending; +Inf is implied
    std::vector<uint64_t> counts;  // bounds.size() + 1: the last is above every bound
    double sum = 0;
    uint64_t count = 0;

    explicit HistogramValues(std::vector<double> upper_bounds = {})
        : bounds(std::move(upper_bounds)), counts(bounds.size() + 1, 0) {}
    void observe(double value);
};

class PrometheusText {
public:
    // Starts a family; type is counter, gauge or histogram.
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, const MetricLabels& labels, double value);
    void histogram(std::string_view name, const MetricLabels& labels, const HistogramValues& h);

    const std::string& text() const { return out_; }

private:
    void labels(const MetricLabels& labels, std::string_view le = {});
    std::string out_;
};

// A number as the format writes it: integers without a fraction, +Inf/-Inf/NaN by name.
std::string prometheus_number(double value);

}  // namespace sluice
