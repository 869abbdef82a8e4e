//! Typed messages and their plain-text rendering.
//!
//! A [`Message`] says what happened; [`Mail::new`] turns it into a subject and a
//! plain-text body for one recipient. Every link is built from the configured public URL
//! in the [`MailContext`], never from anything a request carried (such as its `Host`
//! header), so an attacker cannot make a reset link point at a server of theirs.
//!
//! A secret token appears in exactly one place: the `token` query parameter of the
//! message's action link. It never appears in a subject, in `Debug` output or in a log
//! line.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;
use zeroize::Zeroizing;

use crate::domain::{EmailAddress, Username};
use crate::token::OpaqueToken;

/// Everything rendering needs from the configuration.
#[derive(Debug, Clone)]
pub struct MailContext {
    /// The public URL of the application, such as `https://accounts.example.com/` or
    /// `https://example.com/app/`. Every link in a message lies under it.
    pub public_url: Url,
    /// The product name shown in subjects and bodies.
    pub product_name: String,
    /// Where the pages that links lead to live, relative to [`MailContext::public_url`].
    pub links: LinkPaths,
}

impl MailContext {
    /// A context with the default [`LinkPaths`].
    pub fn new(public_url: Url, product_name: impl Into<String>) -> Self {
        Self {
            public_url,
            product_name: product_name.into(),
            links: LinkPaths::default(),
        }
    }
}

/// The paths of the pages that links in mail lead to.
///
/// Each path is joined under the path of the public URL: with a public URL of
/// `https://example.com/app/`, the path `/account/security` becomes
/// `https://example.com/app/account/security`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkPaths {
    /// The page that confirms an email address (primary or recovery) from a token.
    pub verify_email: String,
    /// The page that sets a new password from a reset token.
    pub reset_password: String,
    /// The account's security settings, which every notice points at.
    pub security_settings: String,
}

impl Default for LinkPaths {
    fn default() -> Self {
        Self {
            verify_email: "/account/verify-email".to_owned(),
            reset_password: "/account/reset-password".to_owned(),
            security_settings: "/account/security".to_owned(),
        }
    }
}

/// A message to one recipient, before rendering.
///
/// Tokens are [`OpaqueToken`]s, whose `Debug` prints `***`, so the derived `Debug` of a
/// message never shows one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Message {
    /// Confirm an address: sent to the address being verified, at sign-up or when it is
    /// about to become the primary address.
    VerifyEmail {
        /// The account the address is for.
        username: Username,
        /// The verification token that the link carries.
        token: OpaqueToken,
        /// How long the token stays valid, in minutes.
        valid_for_minutes: i64,
    },
    /// Someone asked to change the primary address: a notice to the old address, with
    /// "wasn't me" instructions.
    EmailChangeRequested {
        /// The account whose address is changing.
        username: Username,
        /// The new address, masked (see [`EmailAddress::masked`]).
        new_address_masked: String,
    },
    /// The primary address was changed: a notice to the old address.
    EmailChanged {
        /// The account whose address changed.
        username: Username,
        /// The new address, masked (see [`EmailAddress::masked`]).
        new_address_masked: String,
    },
    /// Confirm a password-recovery address: sent to that address.
    VerifyRecoveryEmail {
        /// The account the address is for.
        username: Username,
        /// The verification token that the link carries.
        token: OpaqueToken,
        /// How long the token stays valid, in minutes.
        valid_for_minutes: i64,
    },
    /// The password-recovery address was set, changed or removed: a notice to the
    /// primary address.
    RecoveryEmailChanged {
        /// The account whose recovery address changed.
        username: Username,
    },
    /// The password-reset link.
    PasswordReset {
        /// The account whose password may be reset.
        username: Username,
        /// The reset token that the link carries.
        token: OpaqueToken,
        /// How long the token stays valid, in minutes.
        valid_for_minutes: i64,
    },
    /// The password was changed by its owner: a notice.
    PasswordChanged {
        /// The account whose password changed.
        username: Username,
    },
    /// The password was reset through a reset link: a notice.
    PasswordWasReset {
        /// The account whose password was reset.
        username: Username,
    },
    /// Someone tried to sign up with this address, which already has an account.
    ///
    /// Sign-up answers the same whether or not an address is taken, so that it does not
    /// reveal who has an account; this message tells the owner instead.
    SignUpAttempted,
    /// Sign-in is paused after too many failed attempts: a notice.
    AccountTemporarilyLocked {
        /// The account that is locked.
        username: Username,
        /// How long the lock lasts, in minutes.
        minutes: i64,
    },
    /// A second factor was added: a notice.
    FactorAdded {
        /// The account that got the factor.
        username: Username,
        /// The factor in words, such as "an authenticator app" or "the passkey \"Laptop\"".
        factor: String,
    },
    /// A second factor was removed: a notice.
    FactorRemoved {
        /// The account that lost the factor.
        username: Username,
        /// The factor in words, as in [`Message::FactorAdded`].
        factor: String,
    },
    /// A new set of recovery codes was made, and the old one no longer works: a notice.
    RecoveryCodesRegenerated {
        /// The account whose codes changed.
        username: Username,
    },
    /// A recovery code was used to sign in: a notice.
    RecoveryCodeUsed {
        /// The account the code belonged to.
        username: Username,
        /// How many unused codes remain.
        codes_left: u32,
    },
    /// The right password was followed by a failed second factor: a notice, since someone
    /// may know the password.
    SecondFactorFailed {
        /// The account.
        username: Username,
    },
    /// An administrator removed the account's second factors: a notice.
    SecondFactorsReset {
        /// The account.
        username: Username,
    },
    /// A way for programs to act for the account was created, or got a new secret: a
    /// personal API token, an app password or an SSH key. A notice.
    AccessCreated {
        /// The account.
        username: Username,
        /// What was created, in words, such as `the personal API token "ci" (write)`.
        credential: String,
    },
    /// A personal API token, an app password or an SSH key was removed: a notice.
    AccessRemoved {
        /// The account.
        username: Username,
        /// What was removed, in words, as in [`Message::AccessCreated`].
        credential: String,
    },
    /// An administrator created an account for the recipient: the link to choose a
    /// password, which also confirms the address.
    AccountSetup {
        /// The new account.
        username: Username,
        /// The token that the link carries (a password-reset token).
        token: OpaqueToken,
        /// How long the token stays valid, in minutes.
        valid_for_minutes: i64,
    },
    /// The account was deleted, by its owner or by an administrator: a notice to every
    /// address it had.
    AccountDeleted {
        /// The account that is gone.
        username: Username,
        /// Whether an administrator deleted it.
        by_administrator: bool,
    },
    /// Someone signed in from a device and network not seen on the account before: a
    /// notice with the device details, the address and "wasn't me" instructions.
    NewSignIn {
        /// The account.
        username: Username,
        /// The device in words, such as "Firefox on Linux".
        device: String,
        /// The IP address the sign-in came from, if known.
        ip: Option<String>,
        /// When it happened, in UTC, as `2026-11-30 18:20 UTC`.
        at: String,
    },
}

impl Message {
    /// A stable snake_case name of the kind of message, such as `verify_email`, for file
    /// names, logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::VerifyEmail { .. } => "verify_email",
            Message::EmailChangeRequested { .. } => "email_change_requested",
            Message::EmailChanged { .. } => "email_changed",
            Message::VerifyRecoveryEmail { .. } => "verify_recovery_email",
            Message::RecoveryEmailChanged { .. } => "recovery_email_changed",
            Message::PasswordReset { .. } => "password_reset",
            Message::PasswordChanged { .. } => "password_changed",
            Message::PasswordWasReset { .. } => "password_was_reset",
            Message::SignUpAttempted => "sign_up_attempted",
            Message::AccountTemporarilyLocked { .. } => "account_temporarily_locked",
            Message::FactorAdded { .. } => "factor_added",
            Message::FactorRemoved { .. } => "factor_removed",
            Message::RecoveryCodesRegenerated { .. } => "recovery_codes_regenerated",
            Message::RecoveryCodeUsed { .. } => "recovery_code_used",
            Message::SecondFactorFailed { .. } => "second_factor_failed",
            Message::SecondFactorsReset { .. } => "second_factors_reset",
            Message::AccessCreated { .. } => "access_created",
            Message::AccessRemoved { .. } => "access_removed",
            Message::AccountSetup { .. } => "account_setup",
            Message::AccountDeleted { .. } => "account_deleted",
            Message::NewSignIn { .. } => "new_sign_in",
        }
    }
}

/// A rendered message, ready to send.
///
/// The body may hold a secret link, so `Debug` shows only the recipient, the kind and the
/// subject, and the body is wiped from memory when the mail is dropped.
#[derive(Clone)]
pub struct Mail {
    /// The recipient.
    pub to: EmailAddress,
    /// The message this mail was rendered from.
    pub message: Message,
    subject: String,
    text: Zeroizing<String>,
    link: Option<Zeroizing<String>>,
}

impl Mail {
    /// Renders `message` for `to`: a subject and a plain-text body.
    pub fn new(to: EmailAddress, message: Message, ctx: &MailContext) -> Mail {
        let rendered = render(&message, ctx);
        Mail {
            to,
            message,
            subject: rendered.subject,
            text: Zeroizing::new(rendered.text),
            link: rendered.link.map(|l| Zeroizing::new(String::from(l))),
        }
    }

    /// The subject line. It never holds a secret.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body, lines separated by `\n`. It may hold a secret link.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The action link of the message, if it has one: the link carrying a token that the
    /// recipient is asked to open (verification and reset messages).
    ///
    /// Notices have no action link and answer `None`, though their body does point at the
    /// security settings page.
    pub fn link(&self) -> Option<Url> {
        self.link.as_deref().and_then(|l| Url::parse(l).ok())
    }
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("kind", &self.message.kind())
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// The result of rendering, before it is moved into a [`Mail`].
struct Rendered {
    subject: String,
    text: String,
    link: Option<Url>,
}

/// The opening of the "wasn't me" paragraph that every notice carries.
const WASNT_YOU: &str = "If this wasn't you,";

fn render(message: &Message, ctx: &MailContext) -> Rendered {
    let product = single_line(&ctx.product_name);
    let product = if product.is_empty() {
        "Account".to_owned()
    } else {
        product
    };
    let security = page(&ctx.public_url, &ctx.links.security_settings);
    let review = format!("Review your security settings here:\n{security}");

    let (subject, paragraphs, link): (String, Vec<String>, Option<Url>) = match message {
        Message::VerifyEmail {
            username,
            token,
            valid_for_minutes,
        } => {
            let link = action_link(&ctx.public_url, &ctx.links.verify_email, token);
            (
                format!("{product}: confirm your email address"),
                vec![
                    format!("Hello {username},"),
                    format!(
                        "Please confirm that this email address belongs to your {product} \
                         account by opening this link:"
                    ),
                    link.to_string(),
                    expiry(*valid_for_minutes),
                    "If you did not sign up or add this address, ignore this message: the \
                     address will not be confirmed."
                        .to_owned(),
                ],
                Some(link),
            )
        }
        Message::EmailChangeRequested {
            username,
            new_address_masked,
        } => {
            let new = single_line(new_address_masked);
            (
                format!("{product}: a change of your email address was requested"),
                vec![
                    format!("Hello {username},"),
                    format!(
                        "Someone asked to change the email address of your {product} account \
                         to {new}. The change takes effect only once the new address is \
                         confirmed; until then, this address stays in use."
                    ),
                    format!(
                        "{WASNT_YOU} someone else may know your password: sign in, change \
                         your password and check your email settings. {review}"
                    ),
                ],
                None,
            )
        }
        Message::EmailChanged {
            username,
            new_address_masked,
        } => {
            let new = single_line(new_address_masked);
            (
                format!("{product}: your email address was changed"),
                vec![
                    format!("Hello {username},"),
                    format!(
                        "The email address of your {product} account was changed to {new}. \
                         Messages about your account now go to the new address."
                    ),
                    format!(
                        "{WASNT_YOU} someone else may control your account: contact the \
                         administrators of {product} right away. Once you can sign in again, \
                         change your password and check your email settings. {review}"
                    ),
                ],
                None,
            )
        }
        Message::VerifyRecoveryEmail {
            username,
            token,
            valid_for_minutes,
        } => {
            let link = action_link(&ctx.public_url, &ctx.links.verify_email, token);
            (
                format!("{product}: confirm your recovery email address"),
                vec![
                    format!("Hello {username},"),
                    format!(
                        "Please confirm this address as the password-recovery address of your \
                         {product} account by opening this link:"
                    ),
                    link.to_string(),
                    expiry(*valid_for_minutes),
                    "If you did not ask for this, ignore this message: the address will not \
                     be used."
                        .to_owned(),
                ],
                Some(link),
            )
        }
        Message::RecoveryEmailChanged { username } => (
            format!("{product}: your recovery email address was changed"),
            vec![
                format!("Hello {username},"),
                format!(
                    "The password-recovery email address of your {product} account was \
                     changed."
                ),
                format!(
                    "{WASNT_YOU} someone else may know your password: sign in, change your \
                     password and check your recovery address. {review}"
                ),
            ],
            None,
        ),
        Message::PasswordReset {
            username,
            token,
            valid_for_minutes,
        } => {
            let link = action_link(&ctx.public_url, &ctx.links.reset_password, token);
            (
                format!("{product}: reset your password"),
                vec![
                    format!("Hello {username},"),
                    format!(
                        "Someone asked to reset the password of your {product} account. To \
                         choose a new password, open this link:"
                    ),
                    link.to_string(),
                    expiry(*valid_for_minutes),
                    "If you did not ask for this, ignore this message: your password stays \
                     as it is."
                        .to_owned(),
                ],
                Some(link),
            )
        }
        Message::PasswordChanged { username } => (
            format!("{product}: your password was changed"),
            vec![
                format!("Hello {username},"),
                format!("The password of your {product} account was changed."),
                format!(
                    "{WASNT_YOU} reset your password right away with the \"forgot password\" \
                     link on the sign-in page, then check your sessions and second factors. \
                     {review}"
                ),
            ],
            None,
        ),
        Message::PasswordWasReset { username } => (
            format!("{product}: your password was reset"),
            vec![
                format!("Hello {username},"),
                format!(
                    "The password of your {product} account was reset with a link sent by \
                     email, and the account was signed out everywhere."
                ),
                format!(
                    "{WASNT_YOU} someone else may be able to read your email: secure your \
                     mailbox, then reset your password again with the \"forgot password\" \
                     link on the sign-in page. {review}"
                ),
            ],
            None,
        ),
        Message::SignUpAttempted => (
            format!("{product}: someone tried to sign up with your email address"),
            vec![
                "Hello,".to_owned(),
                format!(
                    "Someone tried to create a new {product} account with this email \
                     address. It already belongs to an account, so no new account was \
                     created and nothing was changed."
                ),
                "If you were trying to sign in and have forgotten your password, use the \
                 \"forgot password\" link on the sign-in page."
                    .to_owned(),
                format!("{WASNT_YOU} you need to do nothing. {review}"),
            ],
            None,
        ),
        Message::AccountTemporarilyLocked { username, minutes } => (
            format!("{product}: sign-in to your account is paused"),
            vec![
                format!("Hello {username},"),
                format!(
                    "There were too many failed sign-in attempts on your {product} account, \
                     so signing in is paused for {}. Your password was not changed.",
                    duration(*minutes)
                ),
                format!(
                    "{WASNT_YOU} someone may be trying to guess your password. Once you can \
                     sign in, consider choosing a stronger password and adding a second \
                     factor. {review}"
                ),
            ],
            None,
        ),
        Message::FactorAdded { username, factor } => (
            format!("{product}: a second factor was added to your account"),
            vec![
                format!("Hello {username},"),
                format!(
                    "A new second factor was added to your {product} account: {}.",
                    single_line(factor)
                ),
                format!(
                    "{WASNT_YOU} someone else controls your account: reset your password \
                     with the \"forgot password\" link on the sign-in page, remove the factor \
                     and end your other sessions, or contact the administrators of {product}. \
                     {review}"
                ),
            ],
            None,
        ),
        Message::FactorRemoved { username, factor } => (
            format!("{product}: a second factor was removed from your account"),
            vec![
                format!("Hello {username},"),
                format!(
                    "A second factor was removed from your {product} account: {}.",
                    single_line(factor)
                ),
                format!(
                    "{WASNT_YOU} someone else controls your account: reset your password \
                     with the \"forgot password\" link on the sign-in page, check your second \
                     factors and end your other sessions, or contact the administrators of \
                     {product}. {review}"
                ),
            ],
            None,
        ),
        Message::RecoveryCodesRegenerated { username } => (
            format!("{product}: your recovery codes were replaced"),
            vec![
                format!("Hello {username},"),
                format!(
                    "A new set of recovery codes was made for your {product} account. The \
                     old codes no longer work."
                ),
                format!(
                    "{WASNT_YOU} someone else controls your account: reset your password \
                     with the \"forgot password\" link on the sign-in page, check your second \
                     factors and end your other sessions. {review}"
                ),
            ],
            None,
        ),
        Message::RecoveryCodeUsed {
            username,
            codes_left,
        } => {
            let left = match codes_left {
                0 => "You have no recovery codes left: make a new set in your security \
                      settings."
                    .to_owned(),
                1 => "You have 1 recovery code left.".to_owned(),
                n => format!("You have {n} recovery codes left."),
            };
            (
                format!("{product}: a recovery code was used to sign in"),
                vec![
                    format!("Hello {username},"),
                    format!(
                        "A recovery code was used to sign in to your {product} account. Each \
                         code works once. {left}"
                    ),
                    format!(
                        "{WASNT_YOU} someone else has your password and one of your recovery \
                         codes: reset your password with the \"forgot password\" link on the \
                         sign-in page, make new recovery codes and end your other sessions. \
                         {review}"
                    ),
                ],
                None,
            )
        }
        Message::SecondFactorFailed { username } => (
            format!("{product}: a sign-in failed at the second step"),
            vec![
                format!("Hello {username},"),
                format!(
                    "Someone signed in to your {product} account with the right password, \
                     then failed the second step (the authenticator code, recovery code or \
                     passkey). They were not let in."
                ),
                format!(
                    "{WASNT_YOU} someone else knows your password: change it right away. \
                     {review}"
                ),
            ],
            None,
        ),
        Message::SecondFactorsReset { username } => (
            format!("{product}: your second factors were removed by an administrator"),
            vec![
                format!("Hello {username},"),
                format!(
                    "An administrator of {product} removed every second factor of your \
                     account (authenticator app, recovery codes and passkeys) and signed the \
                     account out everywhere. You can sign in with your password and set up a \
                     second factor again."
                ),
                format!(
                    "{WASNT_YOU} meaning you did not ask for this reset, contact the \
                     administrators of {product} right away through a channel you trust. \
                     {review}"
                ),
            ],
            None,
        ),
        Message::AccessCreated {
            username,
            credential,
        } => (
            format!("{product}: new access to your account for programs"),
            vec![
                format!("Hello {username},"),
                format!(
                    "Programs can now use your {product} account with {}.",
                    single_line(credential)
                ),
                format!(
                    "{WASNT_YOU} someone else controls your account: remove it under \
                     \"Developer settings\", reset your password with the \"forgot password\" \
                     link on the sign-in page and end your other sessions. {review}"
                ),
            ],
            None,
        ),
        Message::AccessRemoved {
            username,
            credential,
        } => (
            format!("{product}: access to your account for programs was removed"),
            vec![
                format!("Hello {username},"),
                format!(
                    "Programs can no longer use your {product} account with {}.",
                    single_line(credential)
                ),
                format!(
                    "{WASNT_YOU} someone else controls your account: reset your password \
                     with the \"forgot password\" link on the sign-in page and check your \
                     other tokens, app passwords and SSH keys. {review}"
                ),
            ],
            None,
        ),
        Message::AccountSetup {
            username,
            token,
            valid_for_minutes,
        } => {
            let link = action_link(&ctx.public_url, &ctx.links.reset_password, token);
            (
                format!("{product}: your new account"),
                vec![
                    format!("Hello {username},"),
                    format!(
                        "An administrator created a {product} account for you with the \
                         username \"{username}\". To choose your password, open this link \
                         (it also confirms this address):"
                    ),
                    link.to_string(),
                    expiry(*valid_for_minutes),
                    format!(
                        "When it has expired, ask for a new one with the \"forgot password\" \
                         link on the sign-in page. If you did not expect this account, ignore \
                         this message or tell the administrators of {product}."
                    ),
                ],
                Some(link),
            )
        }
        Message::AccountDeleted {
            username,
            by_administrator,
        } => (
            format!("{product}: your account was deleted"),
            vec![
                format!("Hello {username},"),
                if *by_administrator {
                    format!(
                        "An administrator of {product} deleted your account \"{username}\". \
                         Its data, sessions, passwords, passkeys and keys are gone, and it \
                         can no longer be used to sign in."
                    )
                } else {
                    format!(
                        "Your {product} account \"{username}\" was deleted. Its data, \
                         sessions, passwords, passkeys and keys are gone, and it can no \
                         longer be used to sign in."
                    )
                },
                format!(
                    "{WASNT_YOU} contact the administrators of {product} right away through \
                     a channel you trust. The deletion cannot be undone."
                ),
            ],
            None,
        ),
        Message::NewSignIn {
            username,
            device,
            ip,
            at,
        } => (
            format!("{product}: a new sign-in to your account"),
            vec![
                format!("Hello {username},"),
                format!(
                    "Your {product} account was signed in to from a device and network it \
                     had not been used from before:"
                ),
                format!(
                    "Device: {}\nIP address: {}\nTime: {}",
                    single_line(device),
                    ip.as_deref()
                        .map_or_else(|| "unknown".to_owned(), single_line),
                    single_line(at)
                ),
                format!(
                    "{WASNT_YOU} someone else has your password: change it right away and \
                     end your other sessions in your security settings. {review}"
                ),
            ],
            None,
        ),
    };

    let mut text = paragraphs.join("\n\n");
    text.push_str(&format!(
        "\n\n-- \nThis is an automated message from {product}.\n"
    ));
    Rendered {
        subject,
        text,
        link,
    }
}

/// The page at `path` under the public URL, without query or fragment.
///
/// The path is joined under the public URL's own path, so a public URL with a prefix
/// (`https://example.com/app/`) keeps it. Only URL APIs are used, so the result is always
/// a well-formed URL whatever the configured path holds.
fn page(public_url: &Url, path: &str) -> Url {
    let mut url = public_url.clone();
    let joined = format!(
        "{}/{}",
        url.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// The page at `path` with `token` in its `token` query parameter.
fn action_link(public_url: &Url, path: &str, token: &OpaqueToken) -> Url {
    let mut url = page(public_url, path);
    url.query_pairs_mut().append_pair("token", token.expose());
    url
}

/// The expiry sentence of a message with a link.
fn expiry(minutes: i64) -> String {
    format!("The link works once and expires in {}.", duration(minutes))
}

/// A number of minutes in words: "30 minutes", "1 hour", "2 days".
///
/// Anything below one minute reads as one minute, since "expires in 0 minutes" would be
/// nonsense to a reader.
fn duration(minutes: i64) -> String {
    const HOUR: i64 = 60;
    const DAY: i64 = 24 * HOUR;
    let minutes = minutes.max(1);
    let (n, unit) = if minutes % DAY == 0 {
        (minutes / DAY, "day")
    } else if minutes % HOUR == 0 {
        (minutes / HOUR, "hour")
    } else {
        (minutes, "minute")
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural}")
}

/// `s` on one line: control characters (line breaks among them) become spaces.
///
/// Configured and caller-supplied strings end up in the subject header and the body;
/// a line break there could forge a header or a fake paragraph.
fn single_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn ctx(public_url: &str) -> MailContext {
        MailContext::new(Url::parse(public_url).expect("valid URL"), "Example")
    }

    fn alice() -> Username {
        Username::parse("alice").expect("valid")
    }

    fn to() -> EmailAddress {
        EmailAddress::parse("alice@example.com").expect("valid")
    }

    /// One message of every kind, with the tokens they carry.
    fn every_message() -> Vec<(Message, Option<OpaqueToken>)> {
        let token = || OpaqueToken::generate(&OsRandom);
        let (t1, t2, t3, t4) = (token(), token(), token(), token());
        vec![
            (
                Message::VerifyEmail {
                    username: alice(),
                    token: t1.clone(),
                    valid_for_minutes: 1440,
                },
                Some(t1),
            ),
            (
                Message::EmailChangeRequested {
                    username: alice(),
                    new_address_masked: "b***@example.org".to_owned(),
                },
                None,
            ),
            (
                Message::EmailChanged {
                    username: alice(),
                    new_address_masked: "b***@example.org".to_owned(),
                },
                None,
            ),
            (
                Message::VerifyRecoveryEmail {
                    username: alice(),
                    token: t2.clone(),
                    valid_for_minutes: 60,
                },
                Some(t2),
            ),
            (Message::RecoveryEmailChanged { username: alice() }, None),
            (
                Message::PasswordReset {
                    username: alice(),
                    token: t3.clone(),
                    valid_for_minutes: 30,
                },
                Some(t3),
            ),
            (Message::PasswordChanged { username: alice() }, None),
            (Message::PasswordWasReset { username: alice() }, None),
            (Message::SignUpAttempted, None),
            (
                Message::AccountTemporarilyLocked {
                    username: alice(),
                    minutes: 15,
                },
                None,
            ),
            (
                Message::FactorAdded {
                    username: alice(),
                    factor: "an authenticator app".to_owned(),
                },
                None,
            ),
            (
                Message::FactorRemoved {
                    username: alice(),
                    factor: "an authenticator app".to_owned(),
                },
                None,
            ),
            (
                Message::RecoveryCodesRegenerated { username: alice() },
                None,
            ),
            (
                Message::RecoveryCodeUsed {
                    username: alice(),
                    codes_left: 9,
                },
                None,
            ),
            (Message::SecondFactorFailed { username: alice() }, None),
            (Message::SecondFactorsReset { username: alice() }, None),
            (
                Message::AccessCreated {
                    username: alice(),
                    credential: "the personal API token \"ci\" (write)".to_owned(),
                },
                None,
            ),
            (
                Message::AccessRemoved {
                    username: alice(),
                    credential: "the SSH key \"laptop\"".to_owned(),
                },
                None,
            ),
            (
                Message::AccountSetup {
                    username: alice(),
                    token: t4.clone(),
                    valid_for_minutes: 60 * 24,
                },
                Some(t4),
            ),
            (
                Message::AccountDeleted {
                    username: alice(),
                    by_administrator: true,
                },
                None,
            ),
            (
                Message::NewSignIn {
                    username: alice(),
                    device: "Firefox on Linux".to_owned(),
                    ip: Some("203.0.113.7".to_owned()),
                    at: "2026-11-30 18:20 UTC".to_owned(),
                },
                None,
            ),
        ]
    }

    #[test]
    fn every_kind_renders_with_the_product_name_in_the_subject() {
        let ctx = ctx("https://accounts.example.com/");
        let mut kinds = Vec::new();
        for (message, _) in every_message() {
            let kind = message.kind();
            let mail = Mail::new(to(), message, &ctx);
            assert!(
                mail.subject().contains("Example"),
                "{kind}: {}",
                mail.subject()
            );
            assert!(!mail.subject().contains('\n'), "{kind}");
            assert!(mail.text().contains("Example"), "{kind}");
            assert!(mail.text().ends_with('\n'), "{kind}");
            kinds.push(kind);
        }
        let mut unique = kinds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), kinds.len(), "kinds are distinct: {kinds:?}");
        assert!(
            kinds
                .iter()
                .all(|k| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }

    #[test]
    fn links_carry_the_token_under_the_configured_public_url() {
        let ctx = ctx("https://accounts.example.com/");
        for (message, token) in every_message() {
            let kind = message.kind();
            let mail = Mail::new(to(), message, &ctx);
            match token {
                Some(token) => {
                    let link = mail.link().expect("an action link");
                    assert_eq!(link.scheme(), "https");
                    assert_eq!(link.host_str(), Some("accounts.example.com"));
                    assert_eq!(link.query(), Some(&*format!("token={}", token.expose())));
                    assert!(mail.text().contains(link.as_str()), "{kind}");
                    // The token appears once: inside the link and nowhere else.
                    assert_eq!(mail.text().matches(token.expose()).count(), 1, "{kind}");
                    assert!(!mail.subject().contains(token.expose()), "{kind}");
                }
                None => assert_eq!(mail.link(), None, "{kind}"),
            }
        }
    }

    #[test]
    fn links_keep_the_path_prefix_of_the_public_url() {
        let token = OpaqueToken::generate(&OsRandom);
        let message = || Message::PasswordReset {
            username: alice(),
            token: token.clone(),
            valid_for_minutes: 30,
        };
        let expected = format!(
            "https://accounts.example.com/app/account/reset-password?token={}",
            token.expose()
        );
        for base in [
            "https://accounts.example.com/app/",
            "https://accounts.example.com/app",
            "https://accounts.example.com/app/?x=1#frag",
        ] {
            let mail = Mail::new(to(), message(), &ctx(base));
            assert_eq!(
                mail.link().map(String::from),
                Some(expected.clone()),
                "{base}"
            );
            assert!(mail.text().contains(&expected), "{base}");
            let notice = Mail::new(
                to(),
                Message::PasswordChanged { username: alice() },
                &ctx(base),
            );
            assert!(
                notice
                    .text()
                    .contains("https://accounts.example.com/app/account/security\n"),
                "{base}"
            );
        }

        let root = Mail::new(to(), message(), &ctx("http://localhost:8080"));
        assert_eq!(
            root.link().map(String::from),
            Some(format!(
                "http://localhost:8080/account/reset-password?token={}",
                token.expose()
            ))
        );
    }

    #[test]
    fn configured_link_paths_are_used() {
        let mut ctx = ctx("https://example.com/");
        ctx.links = LinkPaths {
            verify_email: "verify".to_owned(),
            reset_password: "/auth/reset/".to_owned(),
            security_settings: "/me/security".to_owned(),
        };
        let token = OpaqueToken::generate(&OsRandom);
        let mail = Mail::new(
            to(),
            Message::VerifyEmail {
                username: alice(),
                token: token.clone(),
                valid_for_minutes: 60,
            },
            &ctx,
        );
        assert_eq!(
            mail.link().map(String::from),
            Some(format!(
                "https://example.com/verify?token={}",
                token.expose()
            ))
        );
        let notice = Mail::new(to(), Message::PasswordChanged { username: alice() }, &ctx);
        assert!(notice.text().contains("https://example.com/me/security"));
    }

    #[test]
    fn debug_never_shows_a_token() {
        let ctx = ctx("https://accounts.example.com/");
        for (message, token) in every_message() {
            let kind = message.kind();
            let message_debug = format!("{message:?} {message:#?}");
            let mail = Mail::new(to(), message, &ctx);
            let mail_debug = format!("{mail:?} {mail:#?}");
            assert!(mail_debug.contains(kind), "{mail_debug}");
            assert!(mail_debug.contains(mail.subject()), "{mail_debug}");
            assert!(!mail_debug.contains(mail.text()), "{mail_debug}");
            assert!(!mail_debug.contains("token="), "{mail_debug}");
            if let Some(token) = token {
                assert!(!message_debug.contains(token.expose()), "{message_debug}");
                assert!(!mail_debug.contains(token.expose()), "{mail_debug}");
            }
        }
    }

    #[test]
    fn notices_tell_what_to_do_if_it_was_not_you() {
        let ctx = ctx("https://accounts.example.com/");
        for (message, token) in every_message() {
            if token.is_some() {
                continue;
            }
            let kind = message.kind();
            let mail = Mail::new(to(), message, &ctx);
            let line = mail
                .text()
                .split("\n\n")
                .find(|p| p.starts_with("If this wasn't you"))
                .unwrap_or_else(|| panic!("{kind}: no \"wasn't you\" paragraph"));
            // A deleted account has no security settings left to review: its owner can
            // only turn to the administrators.
            if kind == "account_deleted" {
                assert!(line.contains("contact the administrators"), "{line}");
                continue;
            }
            assert!(
                line.contains("https://accounts.example.com/account/security"),
                "{kind}: {line}"
            );
        }
    }

    #[test]
    fn notices_about_a_new_address_show_it_masked() {
        let ctx = ctx("https://accounts.example.com/");
        let mail = Mail::new(
            to(),
            Message::EmailChanged {
                username: alice(),
                new_address_masked: "b***@example.org\r\nBcc: evil@example.net".to_owned(),
            },
            &ctx,
        );
        assert!(mail.text().contains("b***@example.org  Bcc"));
        assert!(!mail.text().contains("\r"));
    }

    #[test]
    fn product_names_cannot_break_the_subject_line() {
        let mut ctx = ctx("https://accounts.example.com/");
        ctx.product_name = "Example\r\nBcc: evil@example.net".to_owned();
        let mail = Mail::new(to(), Message::SignUpAttempted, &ctx);
        assert!(!mail.subject().contains(['\r', '\n']));
        ctx.product_name = " \n ".to_owned();
        let mail = Mail::new(to(), Message::SignUpAttempted, &ctx);
        assert!(mail.subject().starts_with("Account:"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(30), "30 minutes");
        assert_eq!(duration(1), "1 minute");
        assert_eq!(duration(0), "1 minute");
        assert_eq!(duration(60), "1 hour");
        assert_eq!(duration(120), "2 hours");
        assert_eq!(duration(1440), "1 day");
        assert_eq!(duration(90), "90 minutes");
    }

    #[test]
    fn link_paths_deserialize_with_defaults() {
        let paths: LinkPaths =
            serde_json::from_str(r#"{"reset_password":"/r"}"#).expect("valid JSON");
        assert_eq!(paths.reset_password, "/r");
        assert_eq!(paths.verify_email, LinkPaths::default().verify_email);
    }
}
