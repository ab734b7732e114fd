#!/usr/bin/python3
"""Offers sluiced's SAML ACS every spoiled answer saml_idp.py can make, each to a sign-in really
started at sluiced (GET /saml/login: the AuthnRequest and its login cookie), as a browser
would POST it. Prints one JSON object: for each case, the status, whether a session cookie
was set, and the page's text.

usage: saml_variants.py BASE_URL CA_FILE IDP_URL IDP_CERT IDP_KEY SP_METADATA
"""
import http.client
import json
import os
import re
import ssl
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import saml_idp  # noqa: E402

base, ca_file, idp_url, idp_cert, idp_key, sp_metadata = sys.argv[1:7]
web = urllib.parse.urlsplit(base)
context = ssl.create_default_context(cafile=ca_file)
idp = saml_idp.Idp(idp_url, open(idp_cert).read(), open(idp_key).read(), open(sp_metadata).read())


def request(method, path, body=None, cookie=None):
    connection = http.client.HTTPSConnection(web.hostname, web.port, context=context, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    if cookie:
        headers["Cookie"] = cookie
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    text = response.read().decode(errors="replace")
    cookies = response.headers.get_all("Set-Cookie") or []
    connection.close()
    return response.status, response.getheader("Location"), cookies, text


def start_login():
    """The AuthnRequest's query (as the IdP receives it) and the browser's login cookie."""
    status, location, cookies, _ = request("GET", "/saml/login")
    assert status == 303, status
    cookie = next(c.split(";")[0] for c in cookies if c.startswith("sluice_saml_login="))
    return urllib.parse.urlsplit(location).query, cookie


def post_response(saml_response, cookie):
    body = urllib.parse.urlencode({"SAMLResponse": saml_response})
    status, _, cookies, text = request("POST", "/saml/acs", body, cookie)
    session = any(c.startswith("sluice_session=") and "Max-Age=0" not in c for c in cookies)
    page = re.sub(r"<[^>]+>", " ", text)
    return {"status": status, "session": session, "text": " ".join(page.split())[:300]}


def attempt(variant, user="dana", groups=("approvers", "staff")):
    query, cookie = start_login()
    _, saml_response = idp.respond(query, user, list(groups), variant)
    return post_response(saml_response, cookie), saml_response, cookie


out = {}
out["good"], good_response, good_cookie = attempt("good")
for variant in ("tampered", "audience", "expired", "unsigned", "unsolicited"):
    out[variant] = attempt(variant)[0]
out["regrouped"] = attempt("regrouped", "erin", ["staff"])[0]
out["outsider"] = attempt("good", "erin", ["staff"])[0]
# Replays of the good answer: with its own (spent) login cookie, within a fresh sign-in (whose
# request it does not answer), and with no sign-in at all.
out["replayed"] = post_response(good_response, good_cookie)
_, fresh_cookie = start_login()
out["replayed_fresh_login"] = post_response(good_response, fresh_cookie)
query, _ = start_login()
_, response_without_login = idp.respond(query, "dana", ["approvers"])
out["no_login_cookie"] = post_response(response_without_login, None)
print(json.dumps(out))
