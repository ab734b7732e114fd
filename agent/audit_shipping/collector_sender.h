// Delivers a batch of audit lines to one collector, blocking the shipper's own thread (never a
// proxy worker) for at most a deadline per step.
//  - syslog over TCP or TLS: one connection kept open; before each batch it is checked for a
//    close by the collector (a syslog receiver never sends), so a restarted collector is
//    reconnected to rather than written into the void.
//  - OTLP/HTTP: POST of the JSON body; any 2xx is delivered; anything else is retried.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/audit_shipping/collector_format.h"

namespace sluice {

class CollectorSender {
public:
    virtual ~CollectorSender() = default;
    // True once the collector has taken every line of the batch; false with `error` otherwise
    // (the batch is sent again).
    virtual bool send(const std::vector<std::string>& lines, std::string& error) = 0;
};

struct CollectorTls {
    std::string ca_file;      // extra CA bundle (system store otherwise)
    std::string server_name;  // checked in the certificate; default: the URL's host
};

std::unique_ptr<CollectorSender> make_syslog_sender(const CollectorUrl& url,
                                                    const CollectorTls& tls);
std::unique_ptr<CollectorSender> make_otlp_sender(const CollectorUrl& url, const CollectorTls& tls);

}  // namespace sluice
