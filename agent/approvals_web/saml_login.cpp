#include "agent/approvals_web/saml_login.h"

#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

// lasso's headers open `extern "C"` before including glib and libxml2, whose C++ parts (ICU's
// templates) must then already be included: these first, so their include guards skip them.
#include <glib-object.h>
#include <glib.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/xmlreader.h>

#include <lasso/lasso.h>
#include <lasso/xml/misc_text_node.h>
#include <lasso/xml/saml-2.0/saml2_assertion.h>
#include <lasso/xml/saml-2.0/saml2_attribute.h>
#include <lasso/xml/saml-2.0/saml2_attribute_statement.h>
#include <lasso/xml/saml-2.0/saml2_attribute_value.h>
#include <lasso/xml/saml-2.0/saml2_audience_restriction.h>
#include <lasso/xml/saml-2.0/samlp2_authn_request.h>
#include <lasso/xml/saml-2.0/samlp2_response.h>

#include "agent/approvals_web/approval_pages.h"
#include "agent/approvals_web/private_file.h"

namespace sluice {

namespace {

std::string read_file(const std::string& key, const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in || text.str().empty())
        throw std::runtime_error("approvals.web.saml." + key + ": cannot read " + path);
    return text.str();
}

// The base64 body of the first certificate in a PEM file, as metadata's X509Certificate wants.
std::string certificate_base64(const std::string& pem) {
    constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
    constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
    const std::size_t begin = pem.find(kBegin);
    const std::size_t end = pem.find(kEnd);
    if (begin == std::string::npos || end == std::string::npos || end < begin)
        throw std::runtime_error("approvals.web.saml.sp_cert_file: no PEM certificate in it");
    std::string body;
    for (char c : pem.substr(begin + kBegin.size(), end - begin - kBegin.size()))
        if (c != '\n' && c != '\r' && c != ' ') body += c;
    return body;
}

// Attribute values escaped with html_escape, which escapes all XML needs (& < > " ').
std::string sp_metadata_xml(const std::string& entity_id, const std::string& acs_url,
                            const std::string& certificate) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID=")" +
           html_escape(entity_id) + R"(">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>)" +
           certificate + R"(</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location=")" +
           html_escape(acs_url) + R"(" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
)";
}

std::string text(const char* value) { return value ? value : ""; }

struct GObjectUnref {
    void operator()(void* object) const {
        if (object) g_object_unref(object);
    }
};
using LoginPtr = std::unique_ptr<LassoLogin, GObjectUnref>;

std::string lasso_error(const char* step, int rc) {
    return std::string(step) + ": " + lasso_strerror(rc);
}

// The values saml_assertion_check reads, from lasso's parsed (and verified) objects.
SamlResponseFacts facts_of(LassoLogin* login, LassoSaml2Assertion* assertion) {
    SamlResponseFacts facts;
    if (auto* response = LASSO_SAMLP2_STATUS_RESPONSE(LASSO_PROFILE(login)->response)) {
        facts.response_in_response_to = text(response->InResponseTo);
        facts.destination = text(response->Destination);
    }
    facts.assertion_id = text(assertion->ID);
    if (assertion->Issuer) facts.issuer = text(assertion->Issuer->content);
    if (LassoSaml2Subject* subject = assertion->Subject) {
        if (subject->NameID) facts.name_id = text(subject->NameID->content);
        if (LassoSaml2SubjectConfirmation* confirmation = subject->SubjectConfirmation) {
            facts.confirmation_method = text(confirmation->Method);
            if (auto* data = confirmation->SubjectConfirmationData) {
                facts.recipient = text(data->Recipient);
                facts.confirmation_in_response_to = text(data->InResponseTo);
                facts.confirmation_not_on_or_after = text(data->NotOnOrAfter);
            }
        }
    }
    if (LassoSaml2Conditions* conditions = assertion->Conditions) {
        facts.not_before = text(conditions->NotBefore);
        facts.not_on_or_after = text(conditions->NotOnOrAfter);
        for (GList* it = conditions->AudienceRestriction; it; it = it->next) {
            auto* restriction = LASSO_SAML2_AUDIENCE_RESTRICTION(it->data);
            facts.audience_restrictions.push_back(
                std::vector<std::string>{text(restriction->Audience)});
        }
    }
    for (GList* s = assertion->AttributeStatement; s; s = s->next) {
        auto* statement = LASSO_SAML2_ATTRIBUTE_STATEMENT(s->data);
        for (GList* a = statement->Attribute; a; a = a->next) {
            auto* attribute = LASSO_SAML2_ATTRIBUTE(a->data);
            auto& values = facts.attributes[text(attribute->Name)];
            for (GList* v = attribute->AttributeValue; v; v = v->next) {
                auto* value = LASSO_SAML2_ATTRIBUTE_VALUE(v->data);
                for (GList* n = value->any; n; n = n->next)
                    if (LASSO_IS_MISC_TEXT_NODE(n->data))
                        values.push_back(text(LASSO_MISC_TEXT_NODE(n->data)->content));
            }
        }
    }
    return facts;
}

}  // namespace

struct SamlLogin::Lasso {
    LassoServer* server = nullptr;
    ~Lasso() {
        if (server) g_object_unref(server);
    }
};

SamlLogin::SamlLogin(const ApprovalSamlConfig& config, const std::string& base_url)
    : config_(config),
      sp_entity_id_(config.sp_entity_id.empty() ? base_url + "saml/metadata" : config.sp_entity_id),
      acs_url_(base_url + "saml/acs"),
      lasso_(std::make_unique<Lasso>()) {
    static std::once_flag initialised;
    std::call_once(initialised, [] {
        if (const int rc = lasso_init(); rc != 0)
            throw std::runtime_error(lasso_error("approvals.web.saml: lasso_init", rc));
    });
    const std::string key = read_private_file(config.sp_key_file, "approvals.web.saml.sp_key_file");
    const std::string certificate = read_file("sp_cert_file", config.sp_cert_file);
    const std::string idp_metadata = read_file("idp_metadata_file", config.idp_metadata_file);
    sp_metadata_ = sp_metadata_xml(sp_entity_id_, acs_url_, certificate_base64(certificate));
    lasso_->server = lasso_server_new_from_buffers(sp_metadata_.c_str(), key.c_str(), nullptr,
                                                   certificate.c_str());
    if (!lasso_->server)
        throw std::runtime_error("approvals.web.saml: sp_key_file/sp_cert_file cannot be used");
    // Our AuthnRequests are signed with RSA-SHA256, not lasso's default RSA-SHA1.
    lasso_->server->signature_method = LASSO_SIGNATURE_METHOD_RSA_SHA256;
    if (const int rc = lasso_server_add_provider_from_buffer(
            lasso_->server, LASSO_PROVIDER_ROLE_IDP, idp_metadata.c_str(), nullptr, nullptr);
        rc != 0)
        throw std::runtime_error(lasso_error("approvals.web.saml.idp_metadata_file", rc));
    GHashTableIter iter;
    gpointer provider_id = nullptr;
    g_hash_table_iter_init(&iter, lasso_->server->providers);
    if (!g_hash_table_iter_next(&iter, &provider_id, nullptr))
        throw std::runtime_error("approvals.web.saml.idp_metadata_file: no IdP in it");
    idp_entity_id_ = static_cast<const char*>(provider_id);
}

SamlLogin::~SamlLogin() = default;

std::optional<SamlLoginStart> SamlLogin::start(std::string& error) {
    LoginPtr login(lasso_login_new(lasso_->server));
    if (!login) {
        error = "lasso_login_new failed";
        return std::nullopt;
    }
    int rc = lasso_login_init_authn_request(login.get(), idp_entity_id_.c_str(),
                                            LASSO_HTTP_METHOD_REDIRECT);
    if (rc != 0) {
        error = lasso_error("AuthnRequest", rc);
        return std::nullopt;
    }
    auto* request = LASSO_SAMLP2_AUTHN_REQUEST(LASSO_PROFILE(login.get())->request);
    g_free(request->ProtocolBinding);
    request->ProtocolBinding = g_strdup(LASSO_SAML2_METADATA_BINDING_POST);
    g_free(request->AssertionConsumerServiceURL);
    request->AssertionConsumerServiceURL = g_strdup(acs_url_.c_str());
    if (request->NameIDPolicy) request->NameIDPolicy->AllowCreate = TRUE;
    rc = lasso_login_build_authn_request_msg(login.get());
    if (rc != 0) {
        error = lasso_error("AuthnRequest", rc);
        return std::nullopt;
    }
    SamlLoginStart started;
    started.redirect_url = text(LASSO_PROFILE(login.get())->msg_url);
    started.request_id = text(LASSO_SAMLP2_REQUEST_ABSTRACT(request)->ID);
    if (started.redirect_url.empty() || started.request_id.empty()) {
        error = "AuthnRequest: lasso built no redirect";
        return std::nullopt;
    }
    return started;
}

SamlLoginResult SamlLogin::finish(const std::string& saml_response, const std::string& request_id) {
    SamlLoginResult result;
    LoginPtr login(lasso_login_new(lasso_->server));
    if (!login) {
        result.error = "lasso_login_new failed";
        return result;
    }
    // Never "maybe": an unsigned response (or one whose signature does not verify against the
    // IdP's metadata) is refused, whatever the metadata says about signing.
    lasso_profile_set_signature_verify_hint(LASSO_PROFILE(login.get()),
                                            LASSO_PROFILE_SIGNATURE_VERIFY_HINT_FORCE);
    std::string message = saml_response;  // lasso takes a mutable char*
    int rc = lasso_login_process_authn_response_msg(login.get(), message.data());
    if (rc != 0) {
        result.error = lasso_error("Response", rc);
        return result;
    }
    std::unique_ptr<LassoNode, GObjectUnref> node(lasso_login_get_assertion(login.get()));
    if (!node || !LASSO_IS_SAML2_ASSERTION(node.get())) {
        result.error = "Response: no assertion";
        return result;
    }
    const SamlResponseFacts facts = facts_of(login.get(), LASSO_SAML2_ASSERTION(node.get()));
    const auto now = std::chrono::system_clock::now();
    const SamlExpectations expected{idp_entity_id_, sp_entity_id_, acs_url_, request_id};
    if (std::string why = check_saml_response(facts, expected, now); !why.empty()) {
        result.error = why;
        return result;
    }
    if (!seen_.first_use(facts.assertion_id, saml_assertion_expiry(facts), now)) {
        result.error = "assertion " + facts.assertion_id + " was already used (replay)";
        return result;
    }
    Approver approver;
    approver.uid = static_cast<uid_t>(-1);
    approver.via = "web_saml";
    approver.saml_idp = idp_entity_id_;
    approver.saml_name_id = facts.name_id;
    approver.name = facts.name_id;
    if (auto it = facts.attributes.find(config_.group_attribute); it != facts.attributes.end())
        approver.saml_groups = it->second;
    result.approver = std::move(approver);
    return result;
}

}  // namespace sluice
