// sluiced's wiring: one data path, assembled from the concerns in start-up order
// (CA, key, audit, identity, kernel programs, proxy, target resolver, admin), then the signal
// loop: SIGHUP reloads the key and reopens the audit file, SIGINT/SIGTERM stop.
#pragma once

#include "agent/config/config.h"

namespace sluice {

// Runs until SIGINT/SIGTERM. Throws std::runtime_error (one line) if start-up fails.
int run_daemon(const Config& config);

}  // namespace sluice
