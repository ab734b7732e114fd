// A small OpenID Connect provider for end-to-end tests, HTTPS on a loopback address: discovery,
// JWKS, an authorization endpoint with a sign-in form (user name only), the token endpoint of
// the authorization code flow with PKCE (S256 required and checked), and RS256 ID tokens signed
// by a key made at start. /mint issues a token for API use (as a workload's IdP would).
// Every token exchange is appended to --log as a JSON line, so tests can assert on it.
//
// usage: node fake_idp.mjs --listen IP:PORT --cert CRT --key KEY --client-id ID --log FILE
//                          --user NAME:SUBJECT:GROUP[,GROUP...] ...
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";

const args = { users: {} };
for (let i = 2; i < process.argv.length; i += 2) {
  const [name, value] = [process.argv[i].replace(/^--/, ""), process.argv[i + 1]];
  if (name === "user") {
    const [user, subject, groups] = value.split(":");
    args.users[user] = { subject, groups: groups ? groups.split(",") : [] };
  } else {
    args[name.replace(/-/g, "_")] = value;
  }
}
const issuer = `https://${args.listen}`;
const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const kid = crypto.randomBytes(8).toString("hex");
const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
const pending = new Map(); // login id -> authorization request
const codes = new Map();   // code -> { request, user }

const b64url = (buffer) => Buffer.from(buffer).toString("base64url");
function sign(claims) {
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
  const payload = b64url(JSON.stringify(claims));
  const signature = crypto.sign("sha256", Buffer.from(`${header}.${payload}`), privateKey);
  return `${header}.${payload}.${b64url(signature)}`;
}
function token_for(user, audience, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  const who = args.users[user];
  return sign({ iss: issuer, sub: who.subject, aud: audience, iat: now, exp: now + 600,
                preferred_username: user, groups: who.groups, ...extra });
}
function log(entry) { fs.appendFileSync(args.log, JSON.stringify(entry) + "\n"); }
function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", ...headers });
  res.end(body);
}
const json = (res, status, value) => send(res, status, "application/json", JSON.stringify(value));
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function authorize(res, query) {
  const request = Object.fromEntries(query);
  if (request.client_id !== args.client_id || request.response_type !== "code" ||
      request.code_challenge_method !== "S256" || !request.code_challenge || !request.state ||
      !request.nonce || !request.redirect_uri)
    return send(res, 400, "text/plain", "bad authorization request\n");
  const id = crypto.randomBytes(16).toString("hex");
  pending.set(id, request);
  send(res, 200, "text/html", `<!doctype html><html><head><title>Test IdP sign-in</title></head>
<body style="font-family:sans-serif;padding:2em"><h1>Test IdP</h1>
<p>Sign in to <b>${escape(request.client_id)}</b></p>
<form method="get" action="/authorize/submit"><input type="hidden" name="login" value="${id}">
<label>User name <input id="username" name="username"></label>
<button id="sign-in" type="submit">Sign in</button></form></body></html>`);
}

function submit(res, query) {
  const request = pending.get(query.get("login"));
  const user = query.get("username");
  if (!request || !args.users[user]) return send(res, 403, "text/plain", "unknown login or user\n");
  pending.delete(query.get("login"));
  const code = crypto.randomBytes(24).toString("base64url");
  codes.set(code, { request, user });
  const target = new URL(request.redirect_uri);
  target.searchParams.set("code", code);
  target.searchParams.set("state", request.state);
  send(res, 302, "text/plain", "", { Location: target.toString() });
}

function token(res, body) {
  const form = new URLSearchParams(body);
  const grant = codes.get(form.get("code"));
  codes.delete(form.get("code")); // a code works once
  const verifier = form.get("code_verifier") ?? "";
  const entry = { grant_type: form.get("grant_type"), client_id: form.get("client_id"),
                  code_known: Boolean(grant), has_verifier: verifier.length > 0,
                  has_client_secret: form.has("client_secret") };
  if (!grant || form.get("grant_type") !== "authorization_code" ||
      form.get("client_id") !== args.client_id ||
      form.get("redirect_uri") !== grant.request.redirect_uri) {
    log({ ...entry, outcome: "invalid_grant" });
    return json(res, 400, { error: "invalid_grant" });
  }
  const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
  if (challenge !== grant.request.code_challenge) {
    log({ ...entry, outcome: "pkce_mismatch" });
    return json(res, 400, { error: "invalid_grant", error_description: "PKCE verifier" });
  }
  log({ ...entry, outcome: "ok", user: grant.user });
  json(res, 200, { token_type: "Bearer", expires_in: 300, access_token: crypto.randomBytes(16).toString("hex"),
                   id_token: token_for(grant.user, args.client_id, { nonce: grant.request.nonce }) });
}

const server = https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) },
  (req, res) => {
    const url = new URL(req.url, issuer);
    let body = "";
    req.on("data", (chunk) => { body += chunk; if (body.length > 65536) req.destroy(); });
    req.on("end", () => {
      if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration")
        return json(res, 200, { issuer, authorization_endpoint: `${issuer}/authorize`,
                                token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`,
                                response_types_supported: ["code"],
                                code_challenge_methods_supported: ["S256"],
                                id_token_signing_alg_values_supported: ["RS256"] });
      if (req.method === "GET" && url.pathname === "/jwks") return json(res, 200, { keys: [jwk] });
      if (req.method === "GET" && url.pathname === "/authorize") return authorize(res, url.searchParams);
      if (req.method === "GET" && url.pathname === "/authorize/submit") return submit(res, url.searchParams);
      if (req.method === "POST" && url.pathname === "/token") return token(res, body);
      if (req.method === "GET" && url.pathname === "/mint")
        return send(res, 200, "text/plain", token_for(url.searchParams.get("user"), url.searchParams.get("aud")));
      send(res, 404, "text/plain", "not found\n");
    });
  });
const [host, port] = args.listen.split(":");
server.listen(Number(port), host, () => console.log("listening"));
