// A person's journey through every page, as they would click it: sign up, log in, edit
// the profile, change the email through the mailed link, change the password, register a
// passkey and log in with it alone, set up TOTP and see the recovery codes once, create,
// copy and regenerate an API token, add an SSH key, close another session, switch to
// German, export the data and delete the account.
import { BASE, check, mailedLink, run, t, totp, virtualAuthenticator } from "./lib.mjs";

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "a brand new and long passphrase";
const SSH_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@laptop";

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).filter({ visible: true }).first().waitFor();
}

await run(async (page) => {
  // Sign up from the login page.
  await page.goto(`${BASE}/account`);
  await page.waitForURL(/\/account\/login/);
  await check(page, "login");
  await page.getByRole("link", { name: t("login.signup"), exact: true }).click();
  await check(page, "signup");
  await page.getByLabel(t("signup.username"), { exact: true }).fill("ada");
  await page.getByLabel(t("signup.email")).fill("ada@example.com");
  await page.getByLabel(t("signup.password"), { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: t("signup.submit"), exact: true }).click();
  await expectText(page, t("done.signed_up").slice(0, 30));

  // Log in with the password.
  await page.getByLabel(t("login.login")).fill("ada");
  await page.getByLabel(t("login.password"), { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: t("login.submit"), exact: true }).click();
  await page.waitForURL(/\/account\/profile/);

  // The profile: display name.
  await check(page, "profile");
  await page.getByLabel(t("profile.display_name")).fill("Ada Lovelace");
  await page.getByRole("button", { name: t("profile.save"), exact: true }).click();
  await expectText(page, t("done.profile_saved"));
  await page.getByRole("group").filter({ hasText: t("profile.email_edit") }).first().waitFor().catch(() => {});

  // The email: the pencil opens the form; the change waits for the mailed link.
  await page.getByText(t("profile.email_edit")).click();
  await page.getByLabel(t("profile.email_new")).fill("ada@new.example");
  await page.getByRole("button", { name: t("profile.email_submit"), exact: true }).click();
  await expectText(page, t("done.email_pending").slice(0, 30));
  await page.goto(mailedLink("ada@new.example", "/account/verify-email"));
  await check(page, "verify-email");
  await page.getByRole("button", { name: t("verify.submit"), exact: true }).click();
  await expectText(page, t("done.email_verified"));
  await expectText(page, "ada@new.example");

  // The avatar menu: Account Settings, Log out.
  await page.getByLabel(t("shell.menu_for", "en", { name: "Ada Lovelace" })).click();
  await page.getByRole("link", { name: t("shell.account_settings"), exact: true }).waitFor();

  await page.getByRole("link", { name: t("shell.account_settings"), exact: true }).click();

  // Security: the password.
  await page.getByRole("link", { name: t("security.title"), exact: true }).click();
  await check(page, "security");
  await page.getByLabel(t("security.current_password"), { exact: true }).fill(PASSWORD);
  await page.getByLabel(t("security.new_password"), { exact: true }).fill(NEW_PASSWORD);
  await page.getByRole("button", { name: t("security.change_password"), exact: true }).click();
  await expectText(page, t("done.password_changed"));

  // A passkey, registered in the browser's ceremony and named.
  await virtualAuthenticator(page);
  await page.getByLabel(t("security.passkey_name"), { exact: true }).fill("Laptop");
  await page.getByRole("button", { name: t("security.passkey_register"), exact: true }).click();
  await page.waitForURL(/done=passkey_added/);
  await expectText(page, "Laptop");

  // Log out from the avatar menu and log in with the passkey alone.
  await page.getByLabel(t("shell.menu_for", "en", { name: "Ada Lovelace" })).click();
  await page.getByRole("button", { name: t("shell.logout"), exact: true }).click();
  await page.waitForURL(/\/account\/login/);
  // The page also offers the passkey to the browser's autofill (conditional mediation),
  // which the virtual authenticator may answer before the button is pressed; either way
  // no password is typed.
  await page
    .getByRole("button", { name: t("login.passkey"), exact: true })
    .click({ timeout: 3000 })
    .catch(() => {});
  await page.waitForURL(/\/account\/profile/);
  if ((await page.getByLabel(t("profile.display_name")).inputValue()) !== "Ada Lovelace") {
    throw new Error("the passkey did not sign Ada in");
  }

  // Another session of the same account, from a phone, to close later.
  const phone = await fetch(`${BASE}/api/auth/login`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    },
    body: JSON.stringify({ login: "ada", password: NEW_PASSWORD }),
  });
  if (phone.status !== 200) throw new Error(`the phone's login answered ${phone.status}`);

  // Two-factor authentication with an authenticator app: the code computed from the
  // secret the page shows; the recovery codes are shown once, and copied.
  await page.getByRole("link", { name: t("security.title"), exact: true }).click();
  await page.getByRole("button", { name: t("security.totp_set_up"), exact: true }).click();
  await check(page, "security-totp");
  const secret = (await page.locator("#totp-secret").textContent()).trim();
  await page.getByLabel(t("security.totp_code"), { exact: true }).fill(totp(secret));
  await page.getByRole("button", { name: t("security.totp_confirm"), exact: true }).click();
  await expectText(page, t("security.codes_heading"));
  await check(page, "security-codes");
  const codes = (await page.locator("#recovery-codes li").allTextContents()).map((c) => c.trim());
  if (codes.length < 8) throw new Error(`only ${codes.length} recovery codes`);
  await page.getByRole("button", { name: t("security.codes_copy_label"), exact: true }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (!copied.includes(codes[0])) throw new Error("the copy button did not copy the codes");
  await page.getByRole("link", { name: t("security.codes_done"), exact: true }).click();
  // Shown once: the security page does not show them again.
  if ((await page.content()).includes(codes[0])) throw new Error("a recovery code is shown again");

  // Close the phone's session; this one stays.
  const closeButtons = page.getByRole("button", { name: new RegExp("^" + t("security.session_close_label").split("{")[0]) });
  const before = await closeButtons.count();
  if (before < 1) throw new Error("the phone's session is not listed");
  await closeButtons.first().click();
  await expectText(page, t("done.session_closed"));
  if ((await closeButtons.count()) !== before - 1) throw new Error("the session was not closed");

  await developer(page);

  // German, the export, and the end of the account.
  await page.getByRole("link", { name: t("profile.title"), exact: true }).click();
  await page.getByLabel(t("profile.language_label"), { exact: true }).selectOption("de");
  await expectText(page, t("done.language_saved", "de"));
  await check(page, "profile-de");
  await page.getByRole("link", { name: t("security.title", "de"), exact: true }).click();
  await check(page, "security-de");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: t("security.export_link", "de"), exact: true }).click();
  const file = await (await download).path();
  const exported = JSON.parse((await import("node:fs")).readFileSync(file, "utf8"));
  if (JSON.stringify(exported).indexOf("ada@new.example") < 0) throw new Error("the export lacks the address");
  await page.getByLabel(t("security.delete_type_username", "de"), { exact: true }).fill("ada");
  await page.getByRole("button", { name: t("security.delete_button", "de"), exact: true }).click();
  // The account and its language preference are gone: the login page that says so is in
  // the browser's language again.
  await expectText(page, t("done.account_deleted"));
  const gone = await fetch(`${BASE}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ login: "ada", password: NEW_PASSWORD }),
  });
  if (gone.status !== 401) throw new Error(`a deleted account's login answered ${gone.status}`);
});

/** Developer settings: an API token created, copied, used and regenerated; an SSH key. */
async function developer(page) {
  await page.getByRole("link", { name: t("developer.title"), exact: true }).click();
  await check(page, "developer");
  const tokenForm = page.getByRole("form", { name: t("developer.token_new"), exact: true });
  await tokenForm.getByLabel(t("developer.name"), { exact: true }).fill("Deploy script");
  await tokenForm.getByLabel(t("developer.scope_write"), { exact: true }).check();
  await tokenForm.getByRole("button", { name: t("developer.token_create"), exact: true }).click();
  await check(page, "developer-token-shown");
  const token = (await page.locator("#new-token").textContent()).trim();
  await page.getByRole("button", { name: t("copy.button"), exact: true }).first().click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (copied !== token) throw new Error("the copy button did not copy the token");
  const whoami = async (secret) =>
    (await fetch(`${BASE}/api/account`, { headers: { authorization: `Bearer ${secret}` } })).status;
  if ((await whoami(token)) !== 200) throw new Error("the new token does not work");

  // Regenerate, after the seeds' warning (the dialog is accepted).
  await page.goto(`${BASE}/account/developer`);
  if ((await page.content()).includes(token)) throw new Error("the token is shown again");
  await page.getByRole("button", { name: new RegExp("^" + t("developer.regenerate")) }).first().click();
  const renewed = (await page.locator("#new-token").textContent()).trim();
  if (renewed === token) throw new Error("the regenerated token is the old one");
  if ((await whoami(token)) !== 401) throw new Error("the old token still works");
  if ((await whoami(renewed)) !== 200) throw new Error("the regenerated token does not work");

  // An SSH key.
  await page.goto(`${BASE}/account/developer`);
  const sshForm = page.getByRole("form", { name: t("developer.ssh_key_new"), exact: true });
  await sshForm.getByLabel(t("developer.name"), { exact: true }).fill("Laptop");
  await sshForm.getByLabel(t("developer.ssh_key_public"), { exact: true }).fill(SSH_KEY);
  await sshForm.getByRole("button", { name: t("developer.ssh_key_add"), exact: true }).click();
  await expectText(page, t("done.ssh_key_added"));
  await expectText(page, "SHA256:");

  // The API documentation, linked from here.
  await page.getByRole("link", { name: t("developer.tokens_docs"), exact: true }).click();
  await expectText(page, "/api/account/tokens");
  await check(page, "api-docs");
  await page.goBack();
}
