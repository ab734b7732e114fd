#include "agent/metrics/prometheus_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sluice {

void HistogramValues::observe(double value) {
    size_t i = 0;
    while (i < bounds.size() && value > bounds[i]) ++i;
    ++counts[i];
    sum += value;
    ++count;
}

std::string prometheus_number(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == std::floor(value) && std::fabs(value) < 1e15)
        return std::to_string(static_cast<int64_t>(value));
    // The shortest spelling that reads back as the same double.
    char buffer[32];
    for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
        if (std::strtod(buffer, nullptr) == value) break;
    }
    return buffer;
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {
        if (c == '\\')
            out_ += "\\\\";
        else if (c == '\n')
            out_ += "\\n";
        else
            out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void PrometheusText::labels(const MetricLabels& labels, std::string_view le) {
    if (labels.empty() && le.empty()) return;
    out_ += '{';
    bool first = true;
    auto one = [&](std::string_view name, std::string_view value) {
        if (!first) out_ += ',';
        first = false;
        out_ += name;
        out_ += "=\"";
        for (char c : value) {
            if (c == '\\')
                out_ += "\\\\";
            else if (c == '"')
                out_ += "\\\"";
            else if (c == '\n')
                out_ += "\\n";
            else
                out_ += c;
        }
        out_ += '"';
    };
    for (const auto& [name, value] : labels) one(name, value);
    if (!le.empty()) one("le", le);
    out_ += '}';
}

void PrometheusText::sample(std::string_view name, const MetricLabels& label_set, double value) {
    out_ += name;
    labels(label_set);
    out_ += ' ';
    out_ += prometheus_number(value);
    out_ += '\n';
}

void PrometheusText::histogram(std::string_view name, const MetricLabels& label_set,
                               const HistogramValues& h) {
    uint64_t cumulative = 0;
    const std::string bucket = std::string(name) + "_bucket";
    for (size_t i = 0; i <= h.bounds.size(); ++i) {
        cumulative += h.counts[i];
        out_ += bucket;
        labels(label_set, i < h.bounds.size() ? prometheus_number(h.bounds[i]) : "+Inf");
        out_ += ' ';
        out_ += std::to_string(cumulative);
        out_ += '\n';
    }
    sample(std::string(name) + "_sum", label_set, h.sum);
    sample(std::string(name) + "_count", label_set, static_cast<double>(h.count));
}

}  // namespace sluice
