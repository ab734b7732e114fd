// Drives the approvers' web page in headless Chromium (Debian's, through puppeteer-core) as a
// person would: opens the page, signs in at the test IdP (OIDC or SAML: either shows a form
// with #username and #sign-in), finds the held request, and acts.
// Prints one JSON line of what it saw.
//
// usage: node approvals_browser.mjs ACTION BASE_URL USER APPROVAL_ID
//   ACTION approve   list → detail → (first, POSTs without / with a wrong CSRF token using the
//                    session cookie) → approve with a reason; screenshots of list and detail
//          signin    sign in only: what page the user lands on
// env: SPKI_PINS (base64 SHA-256 of the page's and IdP's keys), SCREENSHOTS (a path prefix,
//      optional), PROFILE_DIR (a fresh directory), CA_FILE (for the direct POSTs)
import fs from "node:fs";
import https from "node:https";
import puppeteer from "puppeteer-core";

const [action, base, user, id] = process.argv.slice(2);
const out = { action };
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  userDataDir: process.env.PROFILE_DIR,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         `--ignore-certificate-errors-spki-list=${process.env.SPKI_PINS}`],
});

function post(path, cookies, body) {
  return new Promise((resolve) => {
    const request = https.request(new URL(path, base), {
      method: "POST", ca: fs.readFileSync(process.env.CA_FILE),
      headers: { Cookie: cookies, "Content-Type": "application/x-www-form-urlencoded",
                 "Content-Length": Buffer.byteLength(body) } },
      (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
    request.on("error", (e) => resolve(String(e)));
    request.end(body);
  });
}

try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 700 });
  await page.goto(new URL("/approvals", base).toString(), { waitUntil: "networkidle0" });
  out.idp_title = await page.title();
  await page.type("#username", user);
  await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("#sign-in")]);
  // The callback's page moves on by itself (meta refresh) to a same-site URL; a SAML IdP's
  // answer first comes back through a form it submits by itself (HTTP-POST binding).
  const origin = new URL(base).origin;
  for (let i = 0; i < 100; i++) {
    const home = new URL(page.url()).origin === origin;
    const refreshing = await page.$('meta[http-equiv="refresh"]').catch(() => true);
    if (home && !refreshing) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await page.waitForNetworkIdle({ idleTime: 200 }).catch(() => {});
  out.landed = new URL(page.url()).pathname;
  out.text = (await page.$eval("body", (b) => b.innerText)).slice(0, 2000);
  out.cookies = (await page.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite }));
  out.script_sees_cookie = await page.evaluate(() => document.cookie.includes("sluice_session"));
  if (action === "approve") {
    const shots = process.env.SCREENSHOTS;
    out.list_has_id = Boolean(await page.$(`tr[data-id="${id}"]`));
    if (shots) await page.screenshot({ path: `${shots}-list.png` });
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click(`a[href="/approvals/${id}"]`)]);
    out.detail = (await page.$eval("main", (m) => m.innerText)).slice(0, 3000);
    const cookie = (await page.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    out.csrf_missing_status = await post(`/approvals/${id}/decide`, cookie, "decision=approve&reason=forged");
    out.csrf_wrong_status = await post(`/approvals/${id}/decide`, cookie, "decision=approve&csrf=not-the-token");
    await page.type("input[name=reason]", "looks fine (web)");
    if (shots) await page.screenshot({ path: `${shots}-detail.png`, fullPage: true });
    await Promise.all([page.waitForNavigation({ waitUntil: "networkidle0" }), page.click("button.approve")]);
    out.after = (await page.$eval("main", (m) => m.innerText)).slice(0, 3000);
    out.notice = await page.$eval(".notice", (n) => n.innerText).catch(() => "");
  }
} catch (error) {
  out.error = String(error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
