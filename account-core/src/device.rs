//! Device details of a session, parsed from the user agent and client hints.
//!
//! A session list shows each session as "Firefox 128 on Linux" and the like, so that a
//! user can tell their own devices from a stranger's. Everything here comes from the
//! client and is untrusted: the user agent is cleaned and capped before it is parsed or
//! stored, every detail is cleaned and capped again, and nothing here can fail or panic.
//!
//! Browsers based on Chromium freeze parts of their user agent (the macOS version is
//! always 10.15.7, Windows 11 says "Windows NT 10.0", Android says "Android 10; K"), and
//! send the truth in User-Agent Client Hints instead. So a hint, when a browser sends
//! one, wins over what the user agent claims, and frozen values are not shown as if they
//! were real.

use serde::{Deserialize, Serialize};

/// The longest user agent kept, in bytes; longer ones are cut at a character boundary.
pub const MAX_USER_AGENT_BYTES: usize = 512;

/// The longest detail of a [`DeviceDetails`], in characters.
pub const MAX_DETAIL_CHARS: usize = 64;

/// User-Agent Client Hints a browser may send.
///
/// Each value is the raw header value as received, such as `"\"Windows\""` with its
/// quotes; [`parse_device`] unquotes and cleans them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHints {
    /// `Sec-CH-UA-Platform`, such as `"Windows"`, `"macOS"` or `"Android"`.
    pub platform: Option<String>,
    /// `Sec-CH-UA-Arch`, such as `"x86"` or `"arm"`.
    pub arch: Option<String>,
    /// `Sec-CH-UA-Model`, such as `"Pixel 7"`; empty on desktops.
    pub model: Option<String>,
    /// `Sec-CH-UA`, the brand list, such as `"Chromium";v="126", "Google Chrome";v="126"`.
    pub brands: Option<String>,
}

/// What a session shows about the device it was opened on.
///
/// Every field is `None` when it cannot be known, and otherwise at most
/// [`MAX_DETAIL_CHARS`] characters with no control characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceDetails {
    /// The browser (or client) and its major version, such as `Firefox 128` or `curl 8`.
    pub browser: Option<String>,
    /// The operating system, such as `Windows 10`, `macOS`, `Android 14` or `iOS 17.5`.
    pub os: Option<String>,
    /// The device model where one can be known (`Pixel 7`, `iPhone`, `Mac`), else its
    /// kind (`Phone`, `Tablet`, `Desktop`).
    pub device: Option<String>,
    /// The browser engine: `Blink`, `WebKit`, `Gecko`, `Trident`, `EdgeHTML` or `Presto`.
    pub engine: Option<String>,
    /// The CPU architecture: `x86_64`, `x86`, `arm64` or `arm` (or a hint's own value).
    pub cpu_arch: Option<String>,
}

/// Parses what a session shows about its device.
///
/// Never fails: what cannot be known is `None`. The user agent is cleaned with
/// [`sanitize_user_agent`] first, which also bounds the work the parser does.
///
/// The rules, in order of trust:
/// - `os`: the `Sec-CH-UA-Platform` hint if present (without a version, which the hint
///   does not carry), else the user agent. Versions that browsers freeze (macOS 10.15.x,
///   Android 10 of a reduced user agent) are left out.
/// - `device`: the `Sec-CH-UA-Model` hint, else the model an Android user agent names,
///   else `iPhone`, `iPad`, `iPod` or `Mac`, else the kind of device (`Phone`, `Tablet`
///   or `Desktop`) when the operating system tells it. Clients such as curl get `None`.
/// - `cpu_arch`: the `Sec-CH-UA-Arch` hint, refined by the user agent when both name the
///   same family (`x86` and `Win64` give `x86_64`), else the user agent's tokens.
/// - `browser` and `engine` come from the user agent, with the `Sec-CH-UA` brand list as
///   a fallback when the user agent says nothing useful.
pub fn parse_device(user_agent: Option<&str>, hints: &ClientHints) -> DeviceDetails {
    let ua = user_agent.and_then(sanitize_user_agent);
    let ua = ua.as_deref().unwrap_or("");
    let parsed = if ua.is_empty() {
        None
    } else {
        woothee::parser::Parser::new().parse(ua)
    };
    let brands = hints
        .brands
        .as_deref()
        .map(parse_brands)
        .unwrap_or_default();

    let os = hint(hints.platform.as_deref())
        .and_then(|p| os_from_platform_hint(&p))
        .or_else(|| parsed.as_ref().and_then(|r| os_from_ua(r, ua)));
    let browser = parsed
        .as_ref()
        .and_then(|r| browser_from_ua(r, ua))
        .or_else(|| browser_from_brands(&brands));
    let device = hint(hints.model.as_deref())
        .or_else(|| device_from_ua(ua))
        .or_else(|| device_kind(os.as_deref(), ua).map(str::to_owned));
    let engine = engine_from_ua(ua)
        .or_else(|| {
            brands
                .iter()
                .any(|(name, _)| name == "Chromium")
                .then_some("Blink")
        })
        .map(str::to_owned);
    let ua_arch = arch_from_ua(ua);
    let cpu_arch = match hint(hints.arch.as_deref()) {
        Some(h) => Some(refine_arch(&h.to_ascii_lowercase(), ua_arch)),
        None => ua_arch.map(str::to_owned),
    };

    DeviceDetails {
        browser: browser.and_then(|s| detail(&s)),
        os: os.and_then(|s| detail(&s)),
        device: device.and_then(|s| detail(&s)),
        engine: engine.and_then(|s| detail(&s)),
        cpu_arch: cpu_arch.and_then(|s| detail(&s)),
    }
}

/// The user agent as it may be stored.
///
/// Control characters (and the Unicode controls that reorder text, which could make one
/// session look like another in a list) are removed, white space at both ends is trimmed,
/// and the rest is cut to [`MAX_USER_AGENT_BYTES`] at a character boundary. `None` when
/// nothing is left.
pub fn sanitize_user_agent(user_agent: &str) -> Option<String> {
    let mut out = String::with_capacity(user_agent.len().min(MAX_USER_AGENT_BYTES));
    for c in user_agent.chars().filter(|&c| !is_unsafe_char(c)) {
        if out.len() + c.len_utf8() > MAX_USER_AGENT_BYTES {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Whether `c` must never reach a stored or shown value: control characters and the
/// bidirectional formatting characters.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// A detail as it may be shown: cleaned, trimmed and cut to [`MAX_DETAIL_CHARS`].
fn detail(value: &str) -> Option<String> {
    let capped: String = value
        .chars()
        .filter(|&c| !is_unsafe_char(c))
        .skip_while(|c| c.is_whitespace())
        .take(MAX_DETAIL_CHARS)
        .collect();
    let capped = capped.trim_end();
    (!capped.is_empty()).then(|| capped.to_owned())
}

/// A client hint's value: the structured-field string unquoted, cleaned and capped.
///
/// Values without quotes are taken as they are, since a lenient reading costs nothing
/// here. `None` for a missing or empty hint, which is how browsers say "unknown".
fn hint(raw: Option<&str>) -> Option<String> {
    detail(&unquote(raw?.trim()))
}

/// The content of a structured-field string such as `"Pixel \"7\""`.
fn unquote(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            // An escaped character stands for itself; a lone trailing backslash is dropped.
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The brands of a `Sec-CH-UA` list with their versions, GREASE brands left out.
fn parse_brands(raw: &str) -> Vec<(String, String)> {
    raw.split(',')
        .take(16)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let name = unquote(parts.next()?.trim());
            let version = parts
                .filter_map(|p| p.trim().strip_prefix("v="))
                .map(|v| unquote(v.trim()))
                .next()
                .unwrap_or_default();
            // Browsers add a made-up brand such as "Not/A)Brand" so that servers do not
            // match the list exactly; it says nothing about the browser.
            let grease = name.contains("Not") && name.contains("Brand");
            (!name.is_empty() && !grease).then_some((name, version))
        })
        .collect()
}

/// The browser named by a brand list: the first specific brand, else "Chromium".
fn browser_from_brands(brands: &[(String, String)]) -> Option<String> {
    let (name, version) = brands
        .iter()
        .find(|(name, _)| name != "Chromium")
        .or_else(|| brands.first())?;
    Some(with_major(name, version))
}

/// `name` followed by the major version of `version`, when it has a numeric one.
fn with_major(name: &str, version: &str) -> String {
    let major = version.split('.').next().unwrap_or("");
    if !major.is_empty() && major.len() <= 6 && major.bytes().all(|b| b.is_ascii_digit()) {
        format!("{name} {major}")
    } else {
        name.to_owned()
    }
}

/// What woothee says when it does not know.
const UNKNOWN: &str = woothee::woothee::VALUE_UNKNOWN;

/// The browser from the user agent, or the client's product name for non-browsers.
fn browser_from_ua(r: &woothee::parser::WootheeResult<'_>, ua: &str) -> Option<String> {
    if r.browser_type == "browser" && r.name != UNKNOWN {
        let name = match r.name {
            "SamsungBrowser" => "Samsung Internet",
            other => other,
        };
        return Some(with_major(name, r.version));
    }
    // Not a browser (curl, an HTTP library, a crawler): its leading product token, such
    // as "curl/8.5.0", names it better than woothee's category "HTTP Library".
    let product = ua.split_whitespace().next()?;
    let (name, version) = product.split_once('/').unwrap_or((product, ""));
    let plausible = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name != "Mozilla"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plausible {
        return Some(with_major(name, version));
    }
    (r.category == "crawler" && r.name != UNKNOWN).then(|| r.name.to_owned())
}

/// The operating system named by a `Sec-CH-UA-Platform` hint.
fn os_from_platform_hint(platform: &str) -> Option<String> {
    let os = match platform {
        // "Unknown" is what browsers send when they cannot tell; the user agent may know.
        "Unknown" => return None,
        "Chrome OS" | "Chromium OS" | "ChromeOS" => "ChromeOS",
        other => other,
    };
    Some(os.to_owned())
}

/// The operating system from the user agent, tidied.
fn os_from_ua(r: &woothee::parser::WootheeResult<'_>, ua: &str) -> Option<String> {
    let version = Some(r.os_version.as_ref()).filter(|v| !v.is_empty() && *v != UNKNOWN);
    let os = match r.os {
        os if os == UNKNOWN || os.is_empty() => return None,
        // Woothee puts the Windows version into the name ("Windows 10") and keeps the
        // NT version ("NT 10.0") apart, which users do not know.
        "Windows UNKNOWN Ver" => "Windows".to_owned(),
        os if os.starts_with("Windows") && os != "Windows Phone OS" => os.to_owned(),
        "Mac OSX" => match version {
            // Every current browser on macOS claims 10.15 (or 10.15.7), whatever the
            // real version, so it is not shown.
            Some(v) if !v.starts_with("10.15") => format!("macOS {v}"),
            _ => "macOS".to_owned(),
        },
        "iPhone" | "iPad" | "iPod" | "iOS" => join("iOS", version),
        // A reduced Chrome user agent ("Android 10; K") freezes the version at 10.
        "Android" if android_model_token(ua) == Some("K") => "Android".to_owned(),
        // ChromeOS's "version" is the platform build, which means nothing to a user.
        "ChromeOS" | "Linux" | "BSD" => r.os.to_owned(),
        other => join(other, version),
    };
    Some(os)
}

/// `name` and, when known, `version`, separated by a space.
fn join(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{name} {v}"),
        None => name.to_owned(),
    }
}

/// The device model or family the user agent names.
fn device_from_ua(ua: &str) -> Option<String> {
    match android_model_token(ua) {
        // "K" is the placeholder of a reduced user agent, not a model.
        Some("K") | None => {}
        Some(model) => return Some(model.to_owned()),
    }
    let family = if ua.contains("like Mac OS X") {
        ["iPhone", "iPad", "iPod"]
            .into_iter()
            .find(|f| ua.contains(f))
    } else if ua.contains("Macintosh") {
        // iPadOS in desktop mode says "Macintosh" too, so this may be an iPad; nothing
        // in the user agent tells them apart.
        Some("Mac")
    } else {
        None
    };
    family.map(str::to_owned)
}

/// The model token of an Android user agent, such as `Pixel 7` in
/// `(Linux; Android 14; Pixel 7)` or `SM-S918B` in `(...; SM-S918B Build/UP1A)`.
fn android_model_token(ua: &str) -> Option<&str> {
    let start = ua.find('(')?;
    let comment = ua[start + 1..].split(')').next()?;
    let mut parts = comment.split(';').map(str::trim);
    parts.find(|p| p.starts_with("Android"))?;
    parts
        .map(|p| p.split(" Build/").next().unwrap_or(p).trim())
        .find(|p| !is_android_filler(p))
}

/// Whether a token of an Android user agent's comment is something other than a model:
/// security level, form factor, web-view marker, Gecko revision or locale.
fn is_android_filler(token: &str) -> bool {
    matches!(
        token,
        "" | "U" | "I" | "N" | "Mobile" | "Tablet" | "TV" | "wv"
    ) || token.starts_with("rv:")
        || is_locale(token)
}

/// Whether `token` looks like a locale such as `en`, `ko-kr` or `pt_BR`.
fn is_locale(token: &str) -> bool {
    let mut parts = token.split(['-', '_']);
    let lang_ok = parts
        .next()
        .is_some_and(|l| l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase()));
    lang_ok
        && parts.all(|p| (2..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// The kind of device when no model is known, judged by the operating system.
fn device_kind(os: Option<&str>, ua: &str) -> Option<&'static str> {
    let os = os?;
    if os.starts_with("Android") {
        // Android phones say "Mobile"; tablets do not.
        return match ua {
            // A platform hint alone does not tell a phone from a tablet.
            "" => None,
            ua if ua.contains("Mobile") => Some("Phone"),
            _ => Some("Tablet"),
        };
    }
    let desktop = ["Windows", "macOS", "Linux", "ChromeOS", "BSD", "FreeBSD"]
        .iter()
        .any(|d| os == *d || os.starts_with(&format!("{d} ")));
    (desktop && !os.starts_with("Windows Phone")).then_some("Desktop")
}

/// The browser engine the user agent reveals.
fn engine_from_ua(ua: &str) -> Option<&'static str> {
    // Every browser on iOS must use WebKit, whatever it calls itself.
    let ios =
        ua.contains("like Mac OS X") && ["iPhone", "iPad", "iPod"].iter().any(|d| ua.contains(d));
    let engine = if ios {
        "WebKit"
    } else if ua.contains("Trident/") || ua.contains("MSIE ") {
        "Trident"
    } else if ua.contains("Edge/") {
        // Legacy Edge (12 to 18); Chromium Edge says "Edg/".
        "EdgeHTML"
    } else if ua.contains("Presto/") {
        "Presto"
    } else if let Some(major) =
        product_major(ua, "Chrome/").or_else(|| product_major(ua, "Chromium/"))
    {
        // Chrome forked WebKit into Blink at version 28.
        if major >= 28 { "Blink" } else { "WebKit" }
    } else if ua.contains("Gecko/") {
        // Other engines say "like Gecko", never "Gecko/".
        "Gecko"
    } else if ua.contains("AppleWebKit/") || ua.contains("AppleWebkit/") {
        "WebKit"
    } else {
        return None;
    };
    Some(engine)
}

/// The major version after `product` (such as `Chrome/`) in the user agent.
fn product_major(ua: &str, product: &str) -> Option<u32> {
    let start = ua.find(product)? + product.len();
    let digits: String = ua[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .take(6)
        .collect();
    // A product token without a version still names the product.
    Some(digits.parse().unwrap_or(u32::MAX))
}

/// The CPU architecture named by a token of the user agent.
fn arch_from_ua(ua: &str) -> Option<&'static str> {
    ua.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find_map(|token| match token.to_ascii_lowercase().as_str() {
            "x86_64" | "x64" | "win64" | "wow64" | "amd64" => Some("x86_64"),
            "aarch64" | "arm64" => Some("arm64"),
            "armv7l" | "armv8l" | "armv7" | "armv6l" => Some("arm"),
            "i686" | "i586" | "i386" => Some("x86"),
            _ => None,
        })
}

/// The `Sec-CH-UA-Arch` hint, made more precise by the user agent when both name the
/// same family: the hint does not say 64-bit, the user agent often does.
///
/// When they disagree the hint wins, since Chrome on Windows on Arm still says "x64".
fn refine_arch(hint: &str, ua_arch: Option<&'static str>) -> String {
    match (hint, ua_arch) {
        ("x86", Some("x86_64")) => "x86_64".to_owned(),
        ("arm", Some("arm64")) => "arm64".to_owned(),
        _ => hint.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng as _, SeedableRng as _};

    use super::*;

    /// Expected details as `[browser, os, device, engine, cpu_arch]`.
    type Expected<'a> = [Option<&'a str>; 5];

    fn check(ua: Option<&str>, hints: &ClientHints, expected: Expected<'_>) {
        let got = parse_device(ua, hints);
        let want = DeviceDetails {
            browser: expected[0].map(str::to_owned),
            os: expected[1].map(str::to_owned),
            device: expected[2].map(str::to_owned),
            engine: expected[3].map(str::to_owned),
            cpu_arch: expected[4].map(str::to_owned),
        };
        assert_eq!(got, want, "user agent: {ua:?}, hints: {hints:?}");
    }

    fn no_hints() -> ClientHints {
        ClientHints::default()
    }

    fn hints(platform: &str, arch: &str, model: &str) -> ClientHints {
        let quoted = |s: &str| Some(format!("\"{s}\""));
        ClientHints {
            platform: quoted(platform),
            arch: quoted(arch),
            model: quoted(model),
            brands: None,
        }
    }

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    const CHROME_ANDROID_REDUCED: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";

    #[test]
    fn chrome_on_windows_10_x64() {
        check(
            Some(CHROME_WINDOWS),
            &no_hints(),
            [
                Some("Chrome 126"),
                Some("Windows 10"),
                Some("Desktop"),
                Some("Blink"),
                Some("x86_64"),
            ],
        );
    }

    #[test]
    fn firefox_on_linux_x86_64() {
        check(
            Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            &no_hints(),
            [
                Some("Firefox 128"),
                Some("Linux"),
                Some("Desktop"),
                Some("Gecko"),
                Some("x86_64"),
            ],
        );
    }

    #[test]
    fn safari_on_macos_hides_the_frozen_version() {
        check(
            Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            ),
            &no_hints(),
            [
                Some("Safari 17"),
                Some("macOS"),
                Some("Mac"),
                Some("WebKit"),
                None,
            ],
        );
        check(
            Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.2 Safari/605.1.15",
            ),
            &no_hints(),
            [
                Some("Safari 13"),
                Some("macOS 10.13.6"),
                Some("Mac"),
                Some("WebKit"),
                None,
            ],
        );
    }

    #[test]
    fn safari_on_iphone() {
        check(
            Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            ),
            &no_hints(),
            [
                Some("Safari 17"),
                Some("iOS 17.5"),
                Some("iPhone"),
                Some("WebKit"),
                None,
            ],
        );
    }

    #[test]
    fn every_browser_on_ios_is_webkit() {
        check(
            Some(
                "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
            ),
            &no_hints(),
            [
                Some("Chrome 126"),
                Some("iOS 17.5"),
                Some("iPad"),
                Some("WebKit"),
                None,
            ],
        );
        check(
            Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/128.0 Mobile/15E148 Safari/605.1.15",
            ),
            &no_hints(),
            [
                Some("Firefox 128"),
                Some("iOS 17.5"),
                Some("iPhone"),
                Some("WebKit"),
                None,
            ],
        );
    }

    #[test]
    fn chrome_on_android_pixel_7() {
        check(
            Some(
                "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 Mobile Safari/537.36",
            ),
            &no_hints(),
            [
                Some("Chrome 126"),
                Some("Android 14"),
                Some("Pixel 7"),
                Some("Blink"),
                None,
            ],
        );
    }

    #[test]
    fn samsung_internet_on_android() {
        check(
            Some(
                "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
            ),
            &no_hints(),
            [
                Some("Samsung Internet 25"),
                Some("Android 14"),
                Some("SM-S918B"),
                Some("Blink"),
                None,
            ],
        );
    }

    #[test]
    fn old_android_skips_locale_and_security_tokens() {
        check(
            Some(
                "Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
            ),
            &no_hints(),
            [
                Some("Safari 4"),
                Some("Android 4.0.3"),
                Some("LG-L160L"),
                Some("WebKit"),
                None,
            ],
        );
    }

    #[test]
    fn firefox_on_android_has_no_model_but_a_kind() {
        check(
            Some("Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"),
            &no_hints(),
            [
                Some("Firefox 128"),
                Some("Android 14"),
                Some("Phone"),
                Some("Gecko"),
                None,
            ],
        );
        check(
            Some("Mozilla/5.0 (Android 14; Tablet; rv:128.0) Gecko/128.0 Firefox/128.0"),
            &no_hints(),
            [
                Some("Firefox 128"),
                Some("Android 14"),
                Some("Tablet"),
                Some("Gecko"),
                None,
            ],
        );
    }

    #[test]
    fn reduced_android_user_agent_shows_no_frozen_details() {
        check(
            Some(CHROME_ANDROID_REDUCED),
            &no_hints(),
            [
                Some("Chrome 126"),
                Some("Android"),
                Some("Phone"),
                Some("Blink"),
                None,
            ],
        );
    }

    #[test]
    fn chromium_edge_on_windows() {
        check(
            Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.2535.85",
            ),
            &no_hints(),
            [
                Some("Edge 125"),
                Some("Windows 10"),
                Some("Desktop"),
                Some("Blink"),
                Some("x86_64"),
            ],
        );
    }

    #[test]
    fn older_engines() {
        check(
            Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
            ),
            &no_hints(),
            [
                Some("Edge 18"),
                Some("Windows 10"),
                Some("Desktop"),
                Some("EdgeHTML"),
                Some("x86_64"),
            ],
        );
        check(
            Some("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko"),
            &no_hints(),
            [
                Some("Internet Explorer 11"),
                Some("Windows 7"),
                Some("Desktop"),
                Some("Trident"),
                Some("x86_64"),
            ],
        );
        check(
            Some("Opera/9.80 (X11; Linux i686) Presto/2.12.388 Version/12.16"),
            &no_hints(),
            [
                Some("Opera 12"),
                Some("Linux"),
                Some("Desktop"),
                Some("Presto"),
                Some("x86"),
            ],
        );
    }

    #[test]
    fn curl_is_a_client_without_a_device() {
        check(
            Some("curl/8.5.0"),
            &no_hints(),
            [Some("curl 8"), None, None, None, None],
        );
    }

    #[test]
    fn hints_override_platform_arch_and_model() {
        // Chrome on Windows 11 on Arm: the user agent claims Windows 10 on x64.
        check(
            Some(CHROME_WINDOWS),
            &hints("Windows", "arm", ""),
            [
                Some("Chrome 126"),
                Some("Windows"),
                Some("Desktop"),
                Some("Blink"),
                Some("arm"),
            ],
        );
        // Chrome on an Apple silicon Mac, which still says "Intel".
        check(
            Some(CHROME_MAC),
            &hints("macOS", "arm", ""),
            [
                Some("Chrome 126"),
                Some("macOS"),
                Some("Mac"),
                Some("Blink"),
                Some("arm"),
            ],
        );
        // A reduced Android user agent names no model; the hint does.
        check(
            Some(CHROME_ANDROID_REDUCED),
            &hints("Android", "", "Pixel 8 Pro"),
            [
                Some("Chrome 126"),
                Some("Android"),
                Some("Pixel 8 Pro"),
                Some("Blink"),
                None,
            ],
        );
        check(
            Some(
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            ),
            &hints("Chrome OS", "x86", ""),
            [
                Some("Chrome 126"),
                Some("ChromeOS"),
                Some("Desktop"),
                Some("Blink"),
                Some("x86_64"),
            ],
        );
    }

    #[test]
    fn unknown_and_empty_hints_fall_back_to_the_user_agent() {
        check(
            Some(CHROME_WINDOWS),
            &hints("Unknown", "", ""),
            [
                Some("Chrome 126"),
                Some("Windows 10"),
                Some("Desktop"),
                Some("Blink"),
                Some("x86_64"),
            ],
        );
        // Unquoted values are read leniently; escapes are undone.
        let h = ClientHints {
            platform: Some("Linux".into()),
            model: Some(r#""My \"Phone\"""#.into()),
            ..ClientHints::default()
        };
        check(
            None,
            &h,
            [None, Some("Linux"), Some("My \"Phone\""), None, None],
        );
    }

    #[test]
    fn brands_stand_in_when_the_user_agent_says_nothing() {
        let h = ClientHints {
            brands: Some(
                r#""Chromium";v="126", "Not/A)Brand";v="8", "Google Chrome";v="126""#.into(),
            ),
            platform: Some("\"Windows\"".into()),
            ..ClientHints::default()
        };
        check(
            None,
            &h,
            [
                Some("Google Chrome 126"),
                Some("Windows"),
                Some("Desktop"),
                Some("Blink"),
                None,
            ],
        );
    }

    #[test]
    fn nothing_known_gives_nothing() {
        check(None, &no_hints(), [None; 5]);
        check(Some("  \u{7}\t "), &no_hints(), [None; 5]);
        check(Some("-"), &no_hints(), [None; 5]);
    }

    #[test]
    fn sanitize_removes_controls_and_cuts_at_a_char_boundary() {
        assert_eq!(sanitize_user_agent(""), None);
        assert_eq!(sanitize_user_agent(" \r\n\u{0} "), None);
        assert_eq!(
            sanitize_user_agent("Mozilla/5.0\r\nX-Injected: 1\u{202e}"),
            Some("Mozilla/5.0X-Injected: 1".into())
        );
        let long = "é".repeat(MAX_USER_AGENT_BYTES);
        let cut = sanitize_user_agent(&long).unwrap_or_default();
        assert_eq!(cut.len(), MAX_USER_AGENT_BYTES);
        let odd = format!("a{long}");
        let cut = sanitize_user_agent(&odd).unwrap_or_default();
        assert_eq!(cut.len(), MAX_USER_AGENT_BYTES - 1);
        assert!(cut.is_char_boundary(cut.len()));
    }

    #[test]
    fn details_are_cleaned_and_capped() {
        let h = ClientHints {
            model: Some(format!("\"{}\u{1b}[31m\"", "M".repeat(200))),
            arch: Some("\"\u{202e}x86\"".into()),
            platform: Some(format!("\"{}\"", "ü".repeat(100))),
            brands: None,
        };
        let d = parse_device(Some(&format!("{}\n", CHROME_WINDOWS)), &h);
        assert_eq!(d.device, Some("M".repeat(MAX_DETAIL_CHARS)));
        assert_eq!(d.os, Some("ü".repeat(MAX_DETAIL_CHARS)));
        assert_eq!(d.cpu_arch.as_deref(), Some("x86_64"));
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let pieces = [
            "Mozilla/5.0 (",
            "Linux; Android ",
            "; Build/",
            ")",
            "(",
            ";",
            "\"",
            "\\",
            "Chrome/",
            "Edge/",
            "Version/",
            "like Mac OS X",
            "iPhone;",
            "Windows NT ",
            "Mac OS X 10_",
            "CrOS ",
            "Gecko/",
            "x86_64",
            "é",
            "\u{202e}",
            "🦀",
            "\u{0}",
            " ",
            "9",
            ".",
            "/",
        ];
        for i in 0..3000 {
            let len = rng.random_range(0..80);
            let ua: String = if i % 3 == 0 {
                // Arbitrary bytes, read as UTF-8 the lossy way, as a header might be.
                let raw: Vec<u8> = (0..len * 4).map(|_| rng.random()).collect();
                String::from_utf8_lossy(&raw).into_owned()
            } else {
                (0..len)
                    .map(|_| pieces[rng.random_range(0..pieces.len())])
                    .collect()
            };
            let pick = |rng: &mut rand_chacha::ChaCha8Rng| {
                let n = rng.random_range(0..12);
                Some(
                    (0..n)
                        .map(|_| pieces[rng.random_range(0..pieces.len())])
                        .collect::<String>(),
                )
            };
            let h = ClientHints {
                platform: pick(&mut rng),
                arch: pick(&mut rng),
                model: pick(&mut rng),
                brands: pick(&mut rng),
            };
            let d = parse_device(Some(&ua), &h);
            for field in [&d.browser, &d.os, &d.device, &d.engine, &d.cpu_arch]
                .into_iter()
                .flatten()
            {
                assert!(field.chars().count() <= MAX_DETAIL_CHARS);
                assert!(!field.chars().any(is_unsafe_char));
                assert!(!field.is_empty());
            }
            let _ = sanitize_user_agent(&ua);
        }
        // Very long input is cut before it is parsed.
        let huge = format!("{CHROME_WINDOWS}{}", "(;Android ".repeat(100_000));
        assert_eq!(
            parse_device(Some(&huge), &no_hints()).browser.as_deref(),
            Some("Chrome 126")
        );
    }

    #[test]
    fn device_details_serialize_as_snake_case_fields() {
        let d = parse_device(Some(CHROME_WINDOWS), &no_hints());
        let json = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(json["cpu_arch"], "x86_64");
        assert_eq!(json["browser"], "Chrome 126");
    }
}
