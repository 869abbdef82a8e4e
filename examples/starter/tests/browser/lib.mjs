// What both journeys share: the browser, the catalogs, the outbox, TOTP codes, and the
// check every page gets (axe-core, then a screenshot at a phone's and a desktop's width).
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

export const BASE = process.env.BASE_URL;
const SCREENSHOTS = process.env.SCREENSHOTS;
const AXE = readFileSync(new URL("./vendor/axe.min.js", import.meta.url), "utf8");

// The catalogs the pages use, so that the journeys find controls by the very labels a
// person reads, in either language.
function catalog(lang) {
  const messages = {};
  const dir = join(process.env.LOCALES, lang);
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      const at = line.indexOf(" = ");
      if (line.trim().startsWith("#") || at < 0) continue;
      messages[line.slice(0, at).trim()] = line.slice(at + 3).trim();
    }
  }
  return messages;
}
const catalogs = { en: catalog("en"), de: catalog("de") };

/** The text of `key` in `lang`, with `{name}` filled from `args`. */
export function t(key, lang = "en", args = {}) {
  const text = catalogs[lang][key];
  if (text === undefined) throw new Error(`no catalog text for ${key} (${lang})`);
  return text.replace(/\{(\w+)\}/g, (_, name) => args[name] ?? `{${name}}`);
}

export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "en-GB",
    permissions: ["clipboard-read", "clipboard-write"],
  });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on("pageerror", (error) => {
    console.error("page error:", error.message);
    process.exitCode = 1;
  });
  // The confirmation dialogs (data-confirm) are accepted as a person would.
  page.on("dialog", (dialog) => dialog.accept());
  return { browser, context, page };
}

/** A WebAuthn virtual authenticator with user verification, as a laptop's platform one. */
export async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

const checked = [];

async function axe(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
    }));
  });
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  const minor = result.filter((v) => !serious.includes(v));
  if (minor.length) console.log(`axe (${name}): minor findings`, JSON.stringify(minor));
  if (serious.length) {
    throw new Error(`axe found serious violations on ${name}: ${JSON.stringify(serious, null, 1)}`);
  }
}

/** axe-core and a screenshot at a phone's width, then at a desktop's. */
export async function check(page, name) {
  const size = page.viewportSize();
  for (const [width, height, label] of [[390, 844, "phone"], [1280, 900, "desktop"]]) {
    await page.setViewportSize({ width, height });
    await axe(page, `${name} (${label})`);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(size);
  checked.push(name);
  console.log(`checked ${name}: ${page.url()}`);
}

export function checkedPages() {
  return checked;
}

/** The newest link in the outbox to `address` whose URL path ends with `path`. */
export function mailedLink(address, path) {
  const dir = process.env.OUTBOX;
  const files = readdirSync(dir).filter((f) => f.endsWith(".eml")).sort();
  for (const file of files.reverse()) {
    const text = readFileSync(join(dir, file), "utf8").replace(/=\r?\n/g, "");
    if (!new RegExp(`^To: .*${address.replace(".", "\\.")}`, "mi").test(text)) continue;
    const links = text.match(/https?:\/\/[^\s"<>]+/g) || [];
    const link = links.map((l) => l.replace(/=3D/g, "=")).find((l) => new URL(l).pathname.endsWith(path));
    if (link) return link;
  }
  throw new Error(`no mail to ${address} with a link to ${path}`);
}

function base32(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of text.replace(/[\s=]/g, "").toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The TOTP code (SHA-1, 6 digits, 30 s) of a base32 secret at `at` seconds. */
export function totp(secret, at = Date.now() / 1000) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)));
  const mac = createHmac("sha1", base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return value.toString().padStart(6, "0");
}

/** Runs a journey, closing the browser and failing the process on any error. */
export async function run(journey) {
  const started = Date.now();
  const { browser, page } = await launch();
  try {
    await journey(page);
    console.log(`pages checked: ${checkedPages().length} (${checkedPages().join(", ")})`);
    console.log(`journey took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.error(error);
    try {
      await page.screenshot({ path: join(SCREENSHOTS, "failure.png"), fullPage: true });
      console.error(`at ${page.url()}; screenshot in ${join(SCREENSHOTS, "failure.png")}`);
    } catch (_) {}
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
