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
  await page.getByText(text, { exact: false }).first().waitFor();
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

  // Another session of the same account, from a phone, to close later.
  const phone = await fetch(`${BASE}/api/auth/login`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    },
    body: JSON.stringify({ login: "ada", password: PASSWORD }),
  });
  if (phone.status !== 200) throw new Error(`the phone's login answered ${phone.status}`);

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

  await (await import("./journey-security.mjs")).default(page, { PASSWORD, NEW_PASSWORD, SSH_KEY, expectText, virtualAuthenticator, totp, check, t });
});
