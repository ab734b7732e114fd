// What GET /metrics answers: the per-request metrics (agent/metrics) and the daemon's gauges
// and counters gathered at scrape time (connections, upstream errors, audit queue, held
// approvals, budgets per rule, the shared state store). docs/metrics.md lists them.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "agent/approvals/approval_registry.h"
#include "agent/audit/audit_writer.h"
#include "agent/audit_shipping/audit_shipper.h"
#include "agent/metrics/request_metrics.h"
#include "agent/proxy/proxy_context.h"
#include "agent/state_store/redis_accounting.h"
#include "policy/policy_state.h"

namespace sluice {

// Policy reloads (SIGHUP, `sluicectl reload`, a changed file) since start.
struct PolicyReloadCounts {
    std::atomic<uint64_t> applied{0};
    std::atomic<uint64_t> refused{0};  // the old policy stayed in force
};

struct MetricsSources {
    const RequestMetrics& requests;
    const ProxyCounters& counters;
    const AuditWriter& audit;
    const ApprovalRegistry& approvals;
    const PolicyState& local_accounts;
    const RedisAccounting* shared_accounts = nullptr;  // null: state_store is local
    AuditShipper* shipper = nullptr;                   // null: audit.ship is off
    const PolicyReloadCounts* policy_reloads = nullptr;
};

std::string render_metrics(const MetricsSources& sources);

}  // namespace sluice
