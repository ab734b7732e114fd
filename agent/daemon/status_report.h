// The `status` answer of the admin socket (and what `sluicectl status` prints).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_writer.h"
#include "agent/config/config.h"
#include "agent/loader/redirect_loader.h"
#include "agent/oidc/issuer_keys.h"
#include "agent/proxy/proxy_context.h"
#include "agent/resolver/resolved_target.h"

namespace sluice {

nlohmann::json loader_status_json(const LoaderStatus& status);

nlohmann::json oidc_status_json(const std::vector<OidcIssuerStatus>& issuers);

nlohmann::json status_report(const Config& config, const LoaderStatus& loader,
                             const std::vector<ResolvedTarget>& targets, const ProxyCounters& proxy,
                             const AuditStats& audit, bool api_key_loaded);

}  // namespace sluice
