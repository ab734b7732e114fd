// Turns the kernel's record of a redirected connection (bpf/redirect_abi.h) into a
// ConnectionOrigin: where the connection was going and who opened it. A process's identity is
// resolved once and shared by its connections; each proxy thread keeps its own memo of the
// processes that connected within the last second (RecentIdentities), passed in explicitly.
#pragma once

#include <functional>
#include <string>

#include "agent/identity/connection_origin.h"
#include "agent/identity/identity.h"
#include "agent/identity/recent_identities.h"
#include "agent/identity/shared_identities.h"
#include "bpf/redirect_abi.h"

namespace sluice {

class ConnectionAttribution {
public:
    // What the audit may keep of a command line (the policy's recognizers and blocked patterns
    // decide, agent/gate/audit_text.h); identity by default.
    using CmdlineFilter = std::function<std::string(const std::string& cmdline)>;

    explicit ConnectionAttribution(IdentityResolver& resolver, CmdlineFilter audit_cmdline = {})
        : resolver_(resolver), audit_cmdline_(std::move(audit_cmdline)) {}

    // Safe to call from several threads, each with its own `recent`.
    ConnectionOrigin origin_of(const sluice_conn_meta& meta, RecentIdentities& recent);

private:
    IdentityResolver& resolver_;
    CmdlineFilter audit_cmdline_;
    SharedIdentities shared_;
};

}  // namespace sluice
