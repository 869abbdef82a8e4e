//! TOTP (RFC 6238): enrolling an authenticator app in two steps, checking its codes, and
//! disabling it.
//!
//! The rules are fixed, the ones every authenticator app supports: HMAC-SHA-1, 6 digits,
//! 30-second steps, and a 160-bit secret from the injected CSPRNG. A code is accepted
//! for the current step or the one before (a code typed just as it changed, or a slow
//! network: RFC 6238 §5.2 allows one step back), and each step at most once per account:
//! the store accepts a step only if it is newer than the last one accepted, atomically,
//! so two requests racing with the same code cannot both pass (SECURITY H26, H27). Time
//! comes from the injected clock, never from the system.
//!
//! Enrolment: [`Accounts::start_totp_enrollment`] keeps a fresh secret pending and
//! returns it with its `otpauth://` URI and a QR code; [`Accounts::confirm_totp_enrollment`]
//! activates it once a code from the app proves the app has it, and returns the
//! account's recovery codes.

use std::fmt;

use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::Accounts;
use super::recovery_codes::RecoveryCodes;
use super::sessions::{EnrollingSession, SignedInSession};
use crate::config::TotpAccountName;
use crate::error::{Error, Result};
use crate::mail::Message;
use crate::model::{
    Account, AssuranceLevel, AuthMethod, Authentication, RequestInfo, SecurityEventKind,
    SessionRecord, SessionStage, TotpSecret,
};
use crate::token::OpaqueToken;

/// A TOTP enrolment just started: what the user's authenticator app needs. Show it once
/// (the QR code, with the secret as text for typing in) and drop it.
///
/// `Debug` hides everything, and the fields are wiped from memory on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct TotpEnrollment {
    /// The secret in base32 without padding (RFC 4648), for apps that cannot scan.
    pub secret: String,
    /// The `otpauth://totp/...` URI in the Key Uri Format, which the QR code holds.
    pub otpauth_uri: String,
    /// The QR code of the URI as a PNG, in a `data:image/png;base64,...` URL ready for an
    /// `<img src>`.
    pub qr_png: String,
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpEnrollment")
            .field("secret", &"***")
            .field("otpauth_uri", &"***")
            .field("qr_png", &"***")
            .finish()
    }
}

/// A confirmed TOTP enrolment: the recovery codes to show once, and the session, which got
/// a new token (a privilege change) and now counts as authenticated with two factors.
#[derive(Debug)]
pub struct TotpConfirmed {
    /// The account's new recovery codes (any earlier set is void).
    pub recovery_codes: RecoveryCodes,
    /// The session after the change.
    pub session: SessionRecord,
    /// The session's new token; the old one no longer works.
    pub token: OpaqueToken,
}

/// How the factor is named in notices.
const FACTOR: &str = "an authenticator app (TOTP)";

impl Accounts {
    /// Starts enrolling an authenticator app: a fresh secret is kept pending (replacing any
    /// earlier pending one) until [`Accounts::confirm_totp_enrollment`] proves the app has
    /// it. Needs a fresh authentication, with the account's strongest factor when it has
    /// one, so that binding a new factor needs the highest level the account has. A
    /// session the "require 2FA" policy restricts to enrolling may do it
    /// ([`EnrollingSession`]).
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session;
    /// [`Error::AlreadyEnrolled`] when the account has a confirmed TOTP authenticator
    /// (one per account: disable it first);
    /// [`Error::ManagedExternally`] for an external-directory account when the policy says
    /// the directory supplies the second factor.
    pub async fn start_totp_enrollment(
        &self,
        current: &EnrollingSession,
    ) -> Result<TotpEnrollment> {
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        self.check_may_enrol(&account).await?;
        let store = &self.inner.store;
        if store
            .totp(account.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some())
        {
            return Err(Error::AlreadyEnrolled);
        }
        let secret = TotpSecret::generate(self.rng());
        let enrollment = self.enrollment(&account, &secret)?;
        if !store
            .put_pending_totp(account.id, &secret, self.now())
            .await?
        {
            return Err(Error::AlreadyEnrolled);
        }
        Ok(enrollment)
    }

    /// Confirms a pending enrolment with a code from the app (current step or the one
    /// before). The TOTP becomes active and a new set of recovery codes replaces any old
    /// one, in one atomic store step; the session gets a new token and counts as
    /// authenticated with TOTP at assurance level 2 (a session that could only enrol a
    /// factor becomes a full one). A `totp_enabled` event is recorded and both addresses
    /// get a notice.
    ///
    /// # Errors
    ///
    /// [`Error::Unauthenticated`] for a session that another request rotated first;
    /// [`Error::InvalidSecondFactor`] for a wrong or malformed code (nothing changes);
    /// [`Error::NotFound`] when no enrolment is pending;
    /// [`Error::AlreadyEnrolled`] when the TOTP is confirmed already.
    pub async fn confirm_totp_enrollment(
        &self,
        current: &EnrollingSession,
        code: &str,
        info: &RequestInfo,
    ) -> Result<TotpConfirmed> {
        let account = self.account_of(current).await?;
        let store = &self.inner.store;
        let pending = store.totp(account.id).await?.ok_or(Error::NotFound)?;
        if pending.confirmed_at.is_some() {
            return Err(Error::AlreadyEnrolled);
        }
        let now = self.now();
        let code = normalize_code(code).ok_or(Error::InvalidSecondFactor)?;
        let step = matching_step(&pending.secret, &code, now.timestamp())?
            .ok_or(Error::InvalidSecondFactor)?;

        let recovery_codes = RecoveryCodes::generate(self.rng());
        if !store
            .confirm_totp(account.id, step, &recovery_codes.digests(), now)
            .await?
        {
            // Disabled or confirmed by a concurrent request since it was read.
            return Err(match store.totp(account.id).await? {
                Some(t) if t.confirmed_at.is_some() => Error::AlreadyEnrolled,
                _ => Error::NotFound,
            });
        }
        // The owner hears of the new factor before it is logged: a failed log write leaves
        // the factor enabled, and the notice must not depend on it.
        self.notify_all_addresses(&account, |username| Message::FactorAdded {
            username,
            factor: FACTOR.to_owned(),
        });
        self.record(account.id, SecurityEventKind::TotpEnabled, info, &[])
            .await?;
        // A privilege change: a new token, so that one seen before is worthless now.
        let (session, token) = self
            .rotate_session(
                current,
                Authentication {
                    method: AuthMethod::Totp,
                    at: now,
                },
                AssuranceLevel::Two,
                SessionStage::Full,
            )
            .await?;
        Ok(TotpConfirmed {
            recovery_codes,
            session,
            token,
        })
    }

    /// Removes the account's TOTP authenticator after a fresh authentication. When the
    /// account has no passkey left, its recovery codes go too (they back up a factor that
    /// no longer exists). A `totp_disabled` event is recorded and both addresses get a
    /// notice. Called while an enrolment is only pending, it cancels the enrolment quietly.
    ///
    /// # Errors
    ///
    /// [`Error::ReauthenticationRequired`] from a stale session;
    /// [`Error::NotFound`] when the account has no TOTP authenticator.
    pub async fn disable_totp(&self, current: &SignedInSession, info: &RequestInfo) -> Result<()> {
        self.require_fresh(current).await?;
        let account = self.account_of(current).await?;
        let store = &self.inner.store;
        let existing = store.totp(account.id).await?.ok_or(Error::NotFound)?;
        // The recovery codes, when no passkey keeps them, go before the TOTP: should
        // deleting the TOTP then fail, it stays without its backup, as after using every
        // code. The other order could leave codes standing for a factor that is gone,
        // which a passkey added later would bring back to life.
        if existing.confirmed_at.is_some() && store.second_factors(account.id).await?.passkeys == 0
        {
            store
                .replace_recovery_codes(account.id, &[], self.now())
                .await?;
        }
        if !store.delete_totp(account.id).await? {
            return Err(Error::NotFound);
        }
        if existing.confirmed_at.is_none() {
            return Ok(());
        }
        // The owner hears of it before it is logged (see `confirm_totp_enrollment`).
        self.notify_all_addresses(&account, |username| Message::FactorRemoved {
            username,
            factor: FACTOR.to_owned(),
        });
        self.record(account.id, SecurityEventKind::TotpDisabled, info, &[])
            .await?;
        Ok(())
    }

    /// Checks a TOTP code of the account's confirmed authenticator: `true` only if it is
    /// right for the current step or the one before *and* the store accepted that step,
    /// which it does once per account (atomic). A malformed code (not six digits once
    /// spaces are removed) is `false` without asking the store.
    ///
    /// The caller decides what a wrong code means (a failed second factor at login).
    pub(crate) async fn verify_totp_code(&self, account: &Account, code: &str) -> Result<bool> {
        let Some(code) = normalize_code(code) else {
            return Ok(false);
        };
        let store = &self.inner.store;
        let Some(record) = store.totp(account.id).await? else {
            return Ok(false);
        };
        if record.confirmed_at.is_none() {
            return Ok(false);
        }
        let Some(step) = matching_step(&record.secret, &code, self.now().timestamp())? else {
            return Ok(false);
        };
        Ok(store.accept_totp_step(account.id, step).await?)
    }

    /// What the app needs for `secret`: the secret in base32, the URI, the QR code.
    fn enrollment(&self, account: &Account, secret: &TotpSecret) -> Result<TotpEnrollment> {
        let config = &self.inner.config;
        let issuer = issuer_of(&config.totp.issuer, &config.product_name);
        let name = match config.totp.account_name {
            TotpAccountName::Email => account.email.as_str(),
            TotpAccountName::Username => account.username.as_str(),
        };
        let encoded = Zeroizing::new(totp(secret.expose(), DIGITS)?.secret().to_base32());
        let uri = otpauth_uri(&issuer, &label_part(name), &encoded);
        let png = Zeroizing::new(
            qrcodegen_image::draw_png(&uri)
                // The error may quote the URI, which holds the secret: say nothing of it.
                .map_err(|_| Error::Internal("the TOTP QR code could not be drawn".into()))?,
        );
        let qr_png = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png.as_slice())
        );
        Ok(TotpEnrollment {
            secret: encoded.to_string(),
            otpauth_uri: uri,
            qr_png,
        })
    }
}

/// Digits of a code.
const DIGITS: u8 = 6;

/// Seconds in a time step.
const STEP_SECS: i64 = 30;

/// The TOTP generator for `secret` with the fixed rules and `digits` digits.
fn totp(secret: &[u8], digits: u8) -> Result<totp_rs::Totp> {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(digits)
        .with_step_duration(STEP_SECS as u64)
        .with_skew(0)
        .with_secret(secret.to_vec())
        .build()
        // The error names a rule (secret length, digits), never the secret.
        .map_err(|e| Error::Internal(format!("TOTP: {e}")))
}

/// The code for time step `step`.
fn code_at(totp: &totp_rs::Totp, step: i64) -> Option<Zeroizing<String>> {
    let at = u64::try_from(step.checked_mul(STEP_SECS)?).ok()?;
    Some(Zeroizing::new(totp.generate(at).to_string()))
}

/// The step, current or one before, whose code `code` (normalised) is at Unix time `now`.
/// Both candidates are computed and compared in constant time whatever matches.
fn matching_step(secret: &TotpSecret, code: &str, now: i64) -> Result<Option<i64>> {
    let totp = totp(secret.expose(), DIGITS)?;
    let current = now.div_euclid(STEP_SECS);
    let mut found = None;
    for step in [current - 1, current] {
        let Some(expected) = code_at(&totp, step) else {
            continue;
        };
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            // The current step wins when both match (a one-in-a-million coincidence).
            found = Some(step);
        }
    }
    Ok(found)
}

/// A code as typed, without spaces: `Some` only for exactly six ASCII digits.
///
/// Public only for the fuzz targets in `fuzz/`, which must call the parser the login
/// uses; it is not part of the API.
#[doc(hidden)]
pub fn normalize_code(input: &str) -> Option<Zeroizing<String>> {
    if input.len() > 64 {
        return None;
    }
    let code: Zeroizing<String> =
        Zeroizing::new(input.chars().filter(|c| !c.is_whitespace()).collect());
    (code.len() == usize::from(DIGITS) && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The issuer shown by apps: the configured one, or the product name, or `Account`; on
/// one line and without colons (the Key Uri Format forbids them in the issuer).
fn issuer_of(configured: &str, product_name: &str) -> String {
    [configured, product_name]
        .into_iter()
        .map(label_part)
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "Account".to_owned())
}

/// A label part (issuer or account name): control characters and colons become spaces.
fn label_part(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || c == ':' { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The Key Uri Format (Google Authenticator's wiki, "Key Uri Format"): the issuer both as
/// the label's prefix and as a parameter, and every parameter spelled out even where it
/// is the default, since some apps ignore missing ones differently.
fn otpauth_uri(issuer: &str, account_name: &str, secret_base32: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{name}?secret={secret_base32}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        name = percent_encode(account_name),
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters (so a space is `%20`,
/// as the Key Uri Format asks, never `+`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::AccountConfig;
    use crate::domain::Password;
    use crate::mail::MemoryMailer;
    use crate::password::HashingConfig;
    use crate::store::memory::MemoryStore;
    use crate::{LoginOutcome, SignUp};

    /// The RFC 6238 Appendix B secret for SHA-1.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, SHA-1: Unix time and the 8-digit code.
    const RFC_VECTORS: [(i64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn h26_rfc_6238_appendix_b_sha1_vectors() {
        let eight = totp(RFC_SECRET, 8).expect("valid");
        let six = totp(RFC_SECRET, DIGITS).expect("valid");
        let secret = TotpSecret::from_bytes(RFC_SECRET.to_vec());
        for (time, expected) in RFC_VECTORS {
            let step = time.div_euclid(STEP_SECS);
            let code = code_at(&eight, step).expect("a valid step");
            assert_eq!(code.as_str(), expected, "T={time}");
            // The six-digit path gives the last six digits.
            let code6 = code_at(&six, step).expect("a valid step");
            assert_eq!(code6.as_str(), &expected[2..], "T={time}");
            assert_eq!(
                matching_step(&secret, &expected[2..], time).expect("valid"),
                Some(step),
                "T={time}"
            );
        }
    }

    #[test]
    fn h26_one_step_back_is_accepted_two_are_not() {
        let secret = TotpSecret::from_bytes(RFC_SECRET.to_vec());
        let code = "287082"; // T=59, step 1
        assert_eq!(matching_step(&secret, code, 59).expect("ok"), Some(1));
        assert_eq!(matching_step(&secret, code, 60).expect("ok"), Some(1));
        assert_eq!(matching_step(&secret, code, 89).expect("ok"), Some(1));
        assert_eq!(matching_step(&secret, code, 90).expect("ok"), None);
        assert_eq!(
            matching_step(&secret, code, 29).expect("ok"),
            None,
            "no step ahead"
        );
    }

    #[test]
    fn codes_are_normalised_or_refused() {
        assert_eq!(
            normalize_code("123456").as_deref().map(String::as_str),
            Some("123456")
        );
        assert_eq!(
            normalize_code(" 123 456 ").as_deref().map(String::as_str),
            Some("123456")
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "+12345",
            "１２３４５６",
            "123-456",
        ] {
            assert!(normalize_code(bad).is_none(), "{bad:?}");
        }
        assert!(normalize_code(&format!("{}123456", " ".repeat(100))).is_none());
    }

    #[test]
    fn the_uri_follows_the_key_uri_format() {
        let uri = otpauth_uri(
            "Example Co",
            "ada lovelace",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        );
        assert_eq!(
            uri,
            "otpauth://totp/Example%20Co:ada%20lovelace?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Example%20Co&algorithm=SHA1&digits=6&period=30"
        );
        // totp-rs reads it back with the same parameters.
        let parsed = totp_rs::Totp::from_url(&uri).expect("parses");
        assert_eq!(parsed.issuer(), Some("Example Co"));
        assert_eq!(parsed.account_name(), "ada lovelace");
        assert_eq!(parsed.digits(), 6);
        assert_eq!(parsed.step(), 30);
        assert_eq!(parsed.secret().as_ref(), b"12345678901234567890");
    }

    #[test]
    fn the_issuer_falls_back_and_loses_its_colons() {
        assert_eq!(issuer_of("Acme", "Product"), "Acme");
        assert_eq!(issuer_of("", "Product"), "Product");
        assert_eq!(issuer_of("  ", " \n"), "Account");
        assert_eq!(issuer_of("Acme: Accounts", "x"), "Acme  Accounts");
        assert_eq!(percent_encode("a&b=c/d?é"), "a%26b%3Dc%2Fd%3F%C3%A9");
    }

    /// The services over a memory store and a manual clock, with `ada` signed up and
    /// signed in (no second factor yet).
    async fn services() -> (Accounts, Arc<ManualClock>, EnrollingSession) {
        let mut config = AccountConfig::new("https://accounts.example.com".parse().expect("url"));
        config.hashing = HashingConfig {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 4,
            max_waiting: 1024,
        };
        let clock = Arc::new(ManualClock::default());
        let accounts = Accounts::builder(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryMailer::new()),
            config,
        )
        .clock(clock.clone())
        .build();
        let info = RequestInfo::default();
        let form = SignUp::parse(
            "ada",
            "ada@example.com",
            "correct horse battery staple",
            None,
        )
        .expect("valid");
        accounts.sign_up(form, &info).await.expect("sign-up");
        let LoginOutcome::SignedIn(signed_in) = accounts
            .login("ada", &Password::new("correct horse battery staple"), &info)
            .await
            .expect("login")
        else {
            panic!("no second factor yet")
        };
        let session = accounts
            .authenticate_enrolling(signed_in.token.expose())
            .await
            .expect("a new session is valid");
        (accounts, clock, session)
    }

    fn code_now(secret: &str, accounts: &Accounts) -> String {
        let bytes = totp_rs::Secret::try_from_base32(secret).expect("base32");
        let totp = totp(bytes.as_ref(), DIGITS).expect("valid");
        let step = accounts.now().timestamp().div_euclid(STEP_SECS);
        code_at(&totp, step).expect("a valid step").to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn h27_twenty_parallel_checks_of_one_code_pass_once() {
        let (accounts, clock, session) = services().await;
        let account = accounts.account_of(&session).await.expect("account");
        let enrollment = accounts
            .start_totp_enrollment(&session)
            .await
            .expect("start");
        // Pending: no code counts yet.
        let code = code_now(&enrollment.secret, &accounts);
        assert!(
            !accounts
                .verify_totp_code(&account, &code)
                .await
                .expect("check")
        );
        accounts
            .confirm_totp_enrollment(&session, &code, &RequestInfo::default())
            .await
            .expect("confirm");

        clock.advance(chrono::Duration::seconds(STEP_SECS));
        let code = code_now(&enrollment.secret, &accounts);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (accounts, account, code) = (accounts.clone(), account.clone(), code.clone());
                tokio::spawn(async move { accounts.verify_totp_code(&account, &code).await })
            })
            .collect();
        let mut passed = 0;
        for task in tasks {
            if task.await.expect("joined").expect("no error") {
                passed += 1;
            }
        }
        assert_eq!(passed, 1);
    }

    #[tokio::test]
    async fn malformed_and_wrong_codes_are_false() {
        let (accounts, clock, session) = services().await;
        let account = accounts.account_of(&session).await.expect("account");
        // No TOTP at all.
        assert!(
            !accounts
                .verify_totp_code(&account, "123456")
                .await
                .expect("check")
        );
        let enrollment = accounts
            .start_totp_enrollment(&session)
            .await
            .expect("start");
        let code = code_now(&enrollment.secret, &accounts);
        accounts
            .confirm_totp_enrollment(&session, &code, &RequestInfo::default())
            .await
            .expect("confirm");
        clock.advance(chrono::Duration::seconds(STEP_SECS));
        let code = code_now(&enrollment.secret, &accounts);
        let wrong = format!(
            "{:06}",
            (code.parse::<u32>().expect("digits") + 1) % 1_000_000
        );
        for bad in ["", "12345", "1234567", "abcdef", wrong.as_str()] {
            assert!(
                !accounts
                    .verify_totp_code(&account, bad)
                    .await
                    .expect("check"),
                "{bad:?}"
            );
        }
        assert!(
            accounts
                .verify_totp_code(&account, &code)
                .await
                .expect("check")
        );
    }

    #[test]
    fn enrollment_debug_hides_everything() {
        let e = TotpEnrollment {
            secret: "JBSWY3DPEHPK3PXP".into(),
            otpauth_uri: "otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXP".into(),
            qr_png: "data:image/png;base64,AAAA".into(),
        };
        let shown = format!("{e:?} {e:#?}");
        assert!(!shown.contains("JBSWY3DPEHPK3PXP"), "{shown}");
        assert!(!shown.contains("otpauth://"), "{shown}");
        assert!(!shown.contains("base64"), "{shown}");
    }
}
