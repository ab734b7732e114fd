#!/usr/bin/python3
"""A SAML 2.0 identity provider for tests, built on Debian's python3-lasso (the same library
sluiced's SP side uses, from the other end). It answers SP-initiated sign-in: an AuthnRequest
by HTTP-Redirect (its signature checked against the SP's metadata), a sign-in form
(#username, #sign-in, no password), then the signed Response by an auto-submitted HTTP-POST
form to the SP's ACS.

As a module, `Idp.respond(query, user, variant)` builds one Response, well formed or spoiled
in one way (tests/e2e/clients/saml_variants.py uses it for the refused cases):
  good         signed, for this request, audience and recipient ours, valid for 5 minutes
  tampered     a good one whose NameID is edited after signing
  regrouped    a good one whose group value is edited after signing (into an approver group)
  audience     signed, but the audience is another SP
  expired      signed, but NotOnOrAfter (conditions and confirmation) has passed
  unsigned     no signature at all
  unsolicited  signed, but answering no request (IdP-initiated: no InResponseTo)

usage: saml_idp.py metadata --url URL --cert FILE > idp-metadata.xml
       saml_idp.py serve --listen HOST:PORT --url URL --cert FILE --key FILE
                   --sp-metadata FILE --user NAME:GROUP,GROUP ... --log FILE
"""
import argparse
import base64
import datetime
import html
import http.server
import json
import re
import sys
import urllib.parse

import lasso


def idp_metadata(url, cert_pem):
    body = "".join(line for line in cert_pem.splitlines() if "CERTIFICATE" not in line)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{url}/metadata">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{url}/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def text_value(value):
    node = lasso.MiscTextNode.newWithString(value)
    node.textChild = True
    attribute_value = lasso.Saml2AttributeValue()
    attribute_value.any = [node]
    return attribute_value


class Idp:
    def __init__(self, url, cert_pem, key_pem, sp_metadata):
        self.metadata = idp_metadata(url, cert_pem)
        self.server = lasso.Server.newFromBuffers(self.metadata, key_pem, None, cert_pem)
        self.server.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256
        self.server.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, sp_metadata)
        self.sp_entity_id = next(iter(self.server.providerIds))

    def respond(self, query, user, groups, variant="good"):
        """(ACS URL, base64 SAMLResponse) answering the AuthnRequest in `query`."""
        login = lasso.Login(self.server)
        if variant == "unsolicited":
            login.initIdpInitiatedAuthnRequest(self.sp_entity_id)
            login.request.nameIdPolicy.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED
            login.processAuthnRequestMsg(None)
        else:
            login.processAuthnRequestMsg(query)
        login.validateRequestMsg(True, True)
        now = datetime.datetime.now(datetime.timezone.utc)
        end = now + (datetime.timedelta(minutes=-10) if variant == "expired" else datetime.timedelta(minutes=5))
        begin = now - datetime.timedelta(minutes=15 if variant == "expired" else 1)
        login.buildAssertion(lasso.SAML_AUTHENTICATION_METHOD_PASSWORD, iso(now), None, iso(begin), iso(end))
        assertion = login.assertion
        name_id = lasso.Saml2NameID()
        name_id.format = lasso.SAML2_NAME_IDENTIFIER_FORMAT_UNSPECIFIED
        name_id.content = user
        assertion.subject.nameID = name_id
        assertion.subject.subjectConfirmation.subjectConfirmationData.notOnOrAfter = iso(end)
        if variant == "audience":
            restriction = lasso.Saml2AudienceRestriction()
            restriction.audience = "https://another-sp.example/saml/metadata"
            assertion.conditions.audienceRestriction = [restriction]
        attribute = lasso.Saml2Attribute()
        attribute.name = "groups"
        attribute.nameFormat = lasso.SAML2_ATTRIBUTE_NAME_FORMAT_BASIC
        attribute.attributeValue = [text_value(g) for g in groups]
        statement = lasso.Saml2AttributeStatement()
        statement.attribute = [attribute]
        assertion.attributeStatement = [statement]
        login.buildAuthnResponseMsg()
        body = login.msgBody
        if variant in ("tampered", "regrouped", "unsigned"):
            xml = base64.b64decode(body).decode()
            if variant == "unsigned":  # every signature taken out: the response and the assertion
                edited = re.sub(r"<(ds:)?Signature\b.*?</(ds:)?Signature>", "", xml, flags=re.S)
            elif variant == "tampered":
                edited = xml.replace(f">{user}</", ">mallory</")
            else:
                edited = xml.replace(f">{groups[0]}</", ">approvers</")
            assert edited != xml, "the variant must change the signed XML"
            body = base64.b64encode(edited.encode()).decode()
        if variant == "unsigned":
            assert b"SignatureValue" not in base64.b64decode(body), "unsigned must carry no signature"
        return login.msgUrl, body


def post_form(acs, saml_response):
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Signing in</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{html.escape(acs)}">
<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">
<noscript><button type="submit">Continue</button></noscript></form></body></html>"""


def serve(args):
    idp = Idp(args.url, open(args.cert).read(), open(args.key).read(), open(args.sp_metadata).read())
    users = {}
    for spec in args.user:
        name, _, groups = spec.partition(":")
        users[name] = [g for g in groups.split(",") if g]
    log = open(args.log, "a")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, body, content_type="text/html; charset=utf-8"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path, _, query = self.path.partition("?")
            if path == "/metadata":
                return self.reply(200, idp.metadata, "application/samlmetadata+xml")
            if path != "/sso":
                return self.reply(404, "not found")
            try:  # the SP's signature on the request, checked before anyone signs in
                lasso.Login(idp.server).processAuthnRequestMsg(query)
                outcome = "ok"
            except lasso.Error as e:
                outcome = f"refused: {e}"
            log.write(json.dumps({"step": "authn_request", "signed": "Signature=" in query, "outcome": outcome}) + "\n")
            log.flush()
            if outcome != "ok":
                return self.reply(400, "bad AuthnRequest")
            self.reply(200, f"""<!doctype html><html><head><title>Test SAML IdP</title></head><body>
<form method="post" action="/sso"><input type="hidden" name="q" value="{html.escape(query)}">
<label>User <input id="username" name="username"></label>
<button id="sign-in" type="submit">Sign in</button></form></body></html>""")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            user = form.get("username", [""])[0]
            if self.path != "/sso" or user not in users:
                return self.reply(403, "unknown user")
            acs, body = idp.respond(form["q"][0], user, users[user])
            log.write(json.dumps({"step": "response", "user": user, "acs": acs}) + "\n")
            log.flush()
            self.reply(200, post_form(acs, body))

    host, _, port = args.listen.rpartition(":")
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    print("listening", flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["metadata", "serve"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key")
    parser.add_argument("--listen")
    parser.add_argument("--sp-metadata")
    parser.add_argument("--user", action="append", default=[])
    parser.add_argument("--log", default="/dev/null")
    args = parser.parse_args()
    if args.command == "metadata":
        sys.stdout.write(idp_metadata(args.url, open(args.cert).read()))
    else:
        serve(args)


if __name__ == "__main__":
    main()
