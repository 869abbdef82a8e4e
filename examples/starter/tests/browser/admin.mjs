// An administrator's journey: logging in with the keyboard alone, inviting a user (who
// sets a password from the mailed link), mandatory two-factor authentication (the user
// lands on the set-up and enrols), then the user's page: reset 2FA, end sessions, disable
// and enable, the security log, and deletion. The invited user's browser also sees the
// second-factor step, Forgot Password and a page it may not open.
import { BASE, check, launch, mailedLink, run, t, totp } from "./lib.mjs";

const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const GRACE_PASSWORD = "a violet lantern over quiet harbours";

async function expectText(page, text) {
  await page.getByText(text, { exact: false }).filter({ visible: true }).first().waitFor();
}

/** Presses Tab until the focused element is the one `locator` names (at most 20 times). */
async function tabTo(page, locator) {
  const target = await locator.elementHandle();
  for (let i = 0; i < 20; i++) {
    if (await page.evaluate((el) => document.activeElement === el, target)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error("the control cannot be reached with the keyboard");
}

/** The focused element must show a visible focus ring (outline or box shadow). */
async function focusIsVisible(page) {
  const visible = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement);
    return (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none";
  });
  if (!visible) throw new Error("the focused control shows no focus ring");
}

await run(async (page) => {
  // The keyboard alone: the login form has focus on arrival; Tab, type, Enter.
  await page.goto(`${BASE}/account/login`);
  await page.waitForFunction(() => document.activeElement && document.activeElement.name === "login");
  await page.keyboard.type("rosa");
  await focusIsVisible(page);
  await tabTo(page, page.getByLabel(t("login.password"), { exact: true }));
  await focusIsVisible(page);
  await page.keyboard.type(ADMIN_PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/account\/profile/);
  const loggedInAt = Date.now();
  // The avatar menu opens from the keyboard too.
  const menu = page.getByLabel(t("shell.menu_for", "en", { name: "rosa" }));
  await tabTo(page, menu);
  await page.keyboard.press("Enter");
  const administration = page.getByRole("link", { name: t("shell.administration"), exact: true }).first();
  await tabTo(page, administration);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/account\/admin\/users/);
  await check(page, "admin-users");

  // Invite Grace; the set-up link reaches her mailbox.
  await page.getByLabel(t("admin.users.username"), { exact: true }).fill("grace");
  await page.getByLabel(t("admin.users.email"), { exact: true }).fill("grace@example.com");
  await page.getByLabel(t("admin.invite.display_name"), { exact: true }).fill("Grace Hopper");
  await page.getByRole("button", { name: t("admin.invite.submit"), exact: true }).click();
  await expectText(page, t("done.user_invited"));
  await check(page, "admin-user");
  const gracePage = page.url().split("?")[0];

  // Grace, in her own browser: the link, her password, her login.
  const grace = await launch();
  const g = grace.page;
  try {
    await g.goto(mailedLink("grace@example.com", "/account/reset-password"));
    await check(g, "reset-password");
    await g.getByLabel(t("reset.new_password"), { exact: true }).fill(GRACE_PASSWORD);
    await g.getByLabel(t("reset.confirm_password"), { exact: true }).fill(GRACE_PASSWORD);
    await g.getByRole("button", { name: t("reset.submit"), exact: true }).click();
    await expectText(g, t("done.password_reset"));

    // The administrator requires two-factor authentication.
    await page.getByRole("link", { name: t("admin.policy.title"), exact: true }).click();
    await check(page, "admin-policy");
    await page.getByLabel(t("admin.policy.require_second_factor"), { exact: true }).check();
    // The shortest re-authentication window, so that the administrator's own session goes
    // stale during this journey and the prompt can be seen (and checked) in the browser.
    await page.getByLabel(t("admin.policy.reauthentication_window"), { exact: true }).fill("30");
    await page.getByRole("button", { name: t("admin.policy.save"), exact: true }).click();
    await expectText(page, t("done.policy_saved"));
    const staleAt = loggedInAt + 31000;

    // Grace logs in and lands on the set-up, where only the second factors are offered.
    await g.getByLabel(t("login.login")).fill("grace");
    await g.getByLabel(t("login.password"), { exact: true }).fill(GRACE_PASSWORD);
    await g.getByRole("button", { name: t("login.submit"), exact: true }).click();
    await g.waitForURL(/\/account\/security/);
    await expectText(g, t("security.enrolment_required"));
    await check(g, "security-enrolment");
    await g.getByRole("button", { name: t("security.totp_set_up"), exact: true }).click();
    const secret = (await g.locator("#totp-secret").textContent()).trim();
    await g.getByLabel(t("security.totp_code"), { exact: true }).fill(totp(secret));
    await g.getByRole("button", { name: t("security.totp_confirm"), exact: true }).click();
    const codes = (await g.locator("#recovery-codes li").allTextContents()).map((c) => c.trim());
    await g.getByRole("link", { name: t("security.codes_done"), exact: true }).click();

    // A page Grace may not open, then the second-factor step with a recovery code.
    await g.goto(`${BASE}/account/admin/users`);
    await expectText(g, t("error.forbidden"));
    await check(g, "forbidden");
    await g.getByLabel(t("shell.menu_for", "en", { name: "Grace Hopper" })).click();
    await g.getByRole("button", { name: t("shell.logout"), exact: true }).click();
    await g.getByLabel(t("login.login")).fill("grace");
    await g.getByLabel(t("login.password"), { exact: true }).fill(GRACE_PASSWORD);
    await g.getByRole("button", { name: t("login.submit"), exact: true }).click();
    await g.waitForURL(/second-factor/);
    await check(g, "second-factor");
    await g.getByLabel(t("second_factor.recovery_code"), { exact: true }).fill(codes[0]);
    await g.getByRole("button", { name: t("second_factor.use_recovery"), exact: true }).click();
    await g.waitForURL(/\/account\/profile/);

    // The administrator finds Grace and acts on her account.
    await page.getByRole("link", { name: t("admin.users.title"), exact: true }).click();
    await page.getByRole("searchbox").or(page.getByLabel(t("admin.users.search"), { exact: true })).first().fill("hopper");
    await page.getByRole("button", { name: t("admin.users.search_submit"), exact: true }).click();
    await page.getByRole("link", { name: "grace", exact: true }).click();
    await page.waitForURL(gracePage);
    await page.getByRole("button", { name: t("admin.user.reset_named", "en", { username: "grace" }), exact: true }).click();
    await expectText(page, t("done.user_factors_reset"));
    await page.getByRole("button", { name: t("admin.user.end_sessions_named", "en", { username: "grace" }), exact: true }).click();
    await expectText(page, t("done.user_sessions_ended"));
    await page.getByRole("button", { name: t("admin.user.disable_named", "en", { username: "grace" }), exact: true }).click();
    await expectText(page, t("done.user_disabled"));
    await page.getByRole("button", { name: t("admin.user.enable_named", "en", { username: "grace" }), exact: true }).click();
    await expectText(page, t("done.user_enabled"));
    await expectText(page, t("admin.user.log"));
    await check(page, "admin-user-after");

    // Grace's browser was signed out by all that.
    await g.goto(`${BASE}/account/profile`);
    await g.waitForURL(/\/account\/login/);
    await g.getByRole("link", { name: t("login.forgot"), exact: true }).click();
    await check(g, "forgot-password");

    // Deletion, once the administrator's sign-in is older than the window: the prompt asks
    // for the password, and then the deletion happens.
    await page.waitForTimeout(Math.max(0, staleAt - Date.now()));
    await page.getByRole("button", { name: t("admin.user.delete_named", "en", { username: "grace" }), exact: true }).click();
    await expectText(page, t("reauth.heading"));
    await check(page, "reauthenticate");
    await page.getByLabel(t("reauth.password"), { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole("button", { name: t("reauth.confirm"), exact: true }).click();
    await expectText(page, t("done.user_deleted"));
  } finally {
    await grace.browser.close();
  }
});
