// Sign-in to the approvers' web page with SAML 2.0, SP-initiated (Web Browser SSO profile):
//
//   /saml/login    → start(): an AuthnRequest, signed with our key, by HTTP-Redirect to the
//                    IdP's SSO URL from its metadata; its ID is kept with this browser's login
//   /saml/acs      → finish(SAMLResponse, that ID): the Response by HTTP-POST. lasso
//                    (Debian's liblasso3, on xmlsec1) parses it and verifies its signature
//                    against the IdP's metadata, refusing unsigned ones; then
//                    saml_assertion_check.h: solicited by this login, for our ACS and entity id,
//                    in time, and each assertion once.
//   /saml/metadata → our SP metadata, to register with the IdP.
// The approver is the NameID, counted by IdP entity id and NameID; their groups are the values
// of `group_attribute`.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "agent/approvals/approval_registry.h"
#include "agent/approvals_web/saml_assertion_check.h"
#include "agent/config/config.h"

namespace sluice {

struct SamlLoginStart {
    std::string redirect_url;  // the IdP's SSO URL with SAMLRequest, SigAlg, Signature
    std::string request_id;
};

struct SamlLoginResult {
    std::optional<Approver> approver;  // set: signed in (who; the caller checks the groups)
    std::string error;                 // one line for the log
};

class SamlLogin {
public:
    // `base_url`: the page's own https://host[:port]/. Reads and checks the key (0600),
    // certificate and IdP metadata now; throws std::runtime_error (one line) if it cannot.
    SamlLogin(const ApprovalSamlConfig& config, const std::string& base_url);
    ~SamlLogin();
    SamlLogin(const SamlLogin&) = delete;
    SamlLogin& operator=(const SamlLogin&) = delete;

    std::optional<SamlLoginStart> start(std::string& error);
    SamlLoginResult finish(const std::string& saml_response, const std::string& request_id);

    const std::string& sp_metadata() const { return sp_metadata_; }
    const std::string& idp_entity_id() const { return idp_entity_id_; }

private:
    struct Lasso;
    const ApprovalSamlConfig config_;
    std::string sp_entity_id_;
    std::string acs_url_;
    std::string sp_metadata_;
    std::string idp_entity_id_;
    std::unique_ptr<Lasso> lasso_;
    SeenAssertions seen_;
};

}  // namespace sluice
