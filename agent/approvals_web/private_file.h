// Files that hold the web page's secrets (its TLS key, the OIDC client secret, the SAML signing
// key) must be readable by sluiced alone: any group or other permission bit stops start-up with
// one line naming the config key and the file.
#pragma once

#include <string>

namespace sluice {

// Throws std::runtime_error "<config_key>: cannot read <path>" or "…: <path> is readable by
// others; chmod 600 it".
void require_private_file(const std::string& path, const std::string& config_key);

// require_private_file, then the whole file.
std::string read_private_file(const std::string& path, const std::string& config_key);

}  // namespace sluice
