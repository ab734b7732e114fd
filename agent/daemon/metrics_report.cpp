#include "agent/daemon/metrics_report.h"

#include <map>

namespace sluice {

namespace {

double number(uint64_t v) { return static_cast<double>(v); }

// "budget|<rule>|user=alice" -> "<rule>": per rule, never per user (bounded labels).
std::string rule_of(const std::string& key) {
    const auto first = key.find('|');
    if (first == std::string::npos) return "";
    const auto second = key.find('|', first + 1);
    return key.substr(first + 1,
                      second == std::string::npos ? std::string::npos : second - first - 1);
}

}  // namespace

std::string render_metrics(const MetricsSources& s) {
    PrometheusText out;
    s.requests.render(out);

    out.family("sluice_connections_total", "counter",
               "Connections redirected to sluiced, by what became of them.");
    const ProxyCounters& c = s.counters;
    out.sample("sluice_connections_total", {{"outcome", "intercepted"}}, number(c.intercepted));
    out.sample("sluice_connections_total", {{"outcome", "passthrough"}}, number(c.passthrough));
    out.sample("sluice_connections_total", {{"outcome", "refused_hello"}},
               number(c.refused_hellos));
    out.sample("sluice_connections_total", {{"outcome", "unattributed"}}, number(c.unattributed));
    out.sample("sluice_connections_total", {{"outcome", "tls_handshake_failed"}},
               number(c.tls_handshake_failures));
    out.family("sluice_upstream_errors_total", "counter",
               "Requests whose upstream exchange failed (connect, TLS, timeout, reset).");
    out.sample("sluice_upstream_errors_total", {}, number(c.upstream_errors));
    out.family("sluice_policy_refusals_total", "counter", "Requests the policy refused.");
    out.sample("sluice_policy_refusals_total", {}, number(c.policy_refusals));

    if (s.policy_reloads) {
        out.family("sluice_policy_reloads_total", "counter",
                   "Policy reloads, by outcome (refused: the old policy stayed in force).");
        out.sample("sluice_policy_reloads_total", {{"outcome", "applied"}},
                   number(s.policy_reloads->applied));
        out.sample("sluice_policy_reloads_total", {{"outcome", "refused"}},
                   number(s.policy_reloads->refused));
    }

    const AuditStats audit = s.audit.stats();
    out.family("sluice_audit_queue_depth", "gauge",
               "Audit records handed to the writer and not yet in the file.");
    out.sample("sluice_audit_queue_depth", {}, number(audit.queued));
    out.family("sluice_audit_records_written_total", "counter", "Audit records written.");
    out.sample("sluice_audit_records_written_total", {}, number(audit.written));
    out.family("sluice_audit_records_lost_total", "counter",
               "Audit records dropped while the file could not be written (each gap is audited).");
    out.sample("sluice_audit_records_lost_total", {}, number(audit.lost));
    out.family("sluice_audit_write_errors_total", "counter", "Failed audit writes.");
    out.sample("sluice_audit_write_errors_total", {}, number(audit.write_errors));
    out.family("sluice_audit_healthy", "gauge", "1 while the audit file can be written.");
    out.sample("sluice_audit_healthy", {}, audit.healthy ? 1 : 0);

    out.family("sluice_approvals_held", "gauge", "Requests held for a person's approval now.");
    out.sample("sluice_approvals_held", {}, number(s.approvals.open_holds()));

    std::map<std::string, std::pair<double, double>> by_rule;  // tokens, cost USD
    for (const auto& a : s.local_accounts.budget_accounts()) {
        auto& [tokens, cost] = by_rule[rule_of(a.key)];
        tokens += static_cast<double>(a.account.used.tokens + a.account.reserved.tokens);
        cost += static_cast<double>(a.account.used.cost_pico + a.account.reserved.cost_pico) / 1e12;
    }
    out.family("sluice_budget_used_tokens", "gauge",
               "Tokens used or held today in this host's budget accounts, summed per rule.");
    for (const auto& [rule, v] : by_rule)
        out.sample("sluice_budget_used_tokens", {{"rule", rule}}, v.first);
    out.family("sluice_budget_used_usd", "gauge",
               "Cost used or held today in this host's budget accounts, summed per rule.");
    for (const auto& [rule, v] : by_rule)
        out.sample("sluice_budget_used_usd", {{"rule", rule}}, v.second);

    if (s.shipper) {
        const nlohmann::json st = s.shipper->status_json();
        out.family("sluice_audit_shipping_spooled_bytes", "gauge",
                   "Audit bytes waiting in a collector's spool.");
        for (const auto& [name, lane] : st.items())
            out.sample("sluice_audit_shipping_spooled_bytes", {{"collector", name}},
                       lane["spooled_bytes"].get<double>());
        out.family("sluice_audit_shipping_delivered_total", "counter",
                   "Audit lines a collector took.");
        for (const auto& [name, lane] : st.items())
            out.sample("sluice_audit_shipping_delivered_total", {{"collector", name}},
                       lane["delivered"].get<double>());
        out.family("sluice_audit_shipping_dropped_total", "counter",
                   "Audit lines dropped from a full spool (failure_mode open).");
        for (const auto& [name, lane] : st.items())
            out.sample("sluice_audit_shipping_dropped_total", {{"collector", name}},
                       lane["dropped"].get<double>());
    }
    if (s.shared_accounts) {
        const nlohmann::json st = s.shared_accounts->status_json();
        out.family("sluice_state_store_up", "gauge",
                   "1 while the shared Redis store is connected.");
        out.sample("sluice_state_store_up", {}, st["connected"].get<bool>() ? 1 : 0);
        out.family("sluice_state_store_admissions_total", "counter",
                   "Rate limit and budget decisions by where they were accounted.");
        out.sample("sluice_state_store_admissions_total", {{"where", "shared"}},
                   st["shared_admissions"].get<double>());
        out.sample("sluice_state_store_admissions_total", {{"where", "local_fail_open"}},
                   st["local_admissions"].get<double>());
        out.sample("sluice_state_store_admissions_total", {{"where", "refused_fail_closed"}},
                   st["refused_unavailable"].get<double>());
        out.family("sluice_state_store_waiting", "gauge",
                   "Settlements waiting for Redis to come back.");
        out.sample("sluice_state_store_waiting", {}, st["waiting_for_redis"].get<double>());
    }
    return out.text();
}

}  // namespace sluice
