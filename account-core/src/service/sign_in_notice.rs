//! Sign-in notices: a login from a device and network the account has not signed in from
//! before mails its owner, with the device, the address and what to do if it wasn't them
//! (as allauth and GitHub do). The policy's `sign_in_notices` turns them off.

use std::net::IpAddr;

use super::Accounts;
use super::sessions::SignedIn;
use crate::device::DeviceDetails;
use crate::error::Result;
use crate::mail::Message;
use crate::model::{EventFilter, EventPage, RequestInfo, SecurityEventKind};

/// How many earlier logins are compared with a new one: enough for months of ordinary use,
/// few enough that a login stays one small read more.
const LOGINS_REMEMBERED: u32 = 100;

impl Accounts {
    /// Records a successful login (its method and other `details`, the session, and the
    /// device and network it came from) and, when neither that device nor that network
    /// had signed in to the account together before, mails a notice to every address. The
    /// very first login of an account is no news to its owner and sends none.
    pub(crate) async fn record_login(
        &self,
        signed_in: &SignedIn,
        info: &RequestInfo,
        details: &[(&str, String)],
    ) -> Result<()> {
        let account = &signed_in.account;
        let device = device_words(&signed_in.session.device);
        let network = info.ip.map(network_of).unwrap_or_default();
        let earlier = self
            .inner
            .store
            .events(
                &EventFilter {
                    account: Some(account.id),
                    kind: Some(SecurityEventKind::LoginSucceeded),
                    since: None,
                },
                EventPage {
                    before: None,
                    limit: LOGINS_REMEMBERED,
                },
            )
            .await?;
        let seen = earlier.is_empty()
            || earlier.iter().any(|e| {
                e.details.get("device") == Some(&device)
                    && e.details.get("network") == Some(&network)
            });
        let mut all = details.to_vec();
        all.push(("session", signed_in.session.id.to_string()));
        all.push(("device", device.clone()));
        all.push(("network", network.clone()));
        self.record(account.id, SecurityEventKind::LoginSucceeded, info, &all)
            .await?;
        if seen || !self.policy().await?.sign_in_notices {
            return Ok(());
        }
        let at = signed_in.session.created_at;
        let ip = info.ip.map(|ip| ip.to_string());
        self.notify_all_addresses(account, |username| Message::NewSignIn {
            username,
            device: device.clone(),
            ip: ip.clone(),
            at: at.format("%Y-%m-%d %H:%M UTC").to_string(),
        });
        self.record(
            account.id,
            SecurityEventKind::NewSignInNotified,
            info,
            &[("device", device), ("network", network)],
        )
        .await
    }
}

/// The device in words, without versions (a browser update is not a new device): "Firefox
/// on Linux", "Safari on iOS", or "an unknown device".
fn device_words(device: &DeviceDetails) -> String {
    let family = |s: &Option<String>| {
        s.as_deref().map(|s| {
            s.split(' ')
                .take_while(|w| !w.starts_with(|c: char| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ")
        })
    };
    match (family(&device.browser), family(&device.os)) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => "an unknown device".to_owned(),
    }
}

/// The network an address belongs to, as far as a sign-in notice cares: its /24 for IPv4
/// and its /48 for IPv6 (what one home, office or provider's pool usually shares), so a
/// new address from the same place is not news.
fn network_of(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    ipnet::IpNet::new(ip, prefix)
        .map(|net| net.trunc().to_string())
        .unwrap_or_else(|_| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_named_without_versions() {
        let device = |browser: Option<&str>, os: Option<&str>| DeviceDetails {
            browser: browser.map(str::to_owned),
            os: os.map(str::to_owned),
            ..DeviceDetails::default()
        };
        assert_eq!(
            device_words(&device(Some("Firefox 128"), Some("Linux"))),
            "Firefox on Linux"
        );
        assert_eq!(
            device_words(&device(Some("Mobile Safari 17"), Some("iOS 17.5"))),
            "Mobile Safari on iOS"
        );
        assert_eq!(device_words(&device(Some("curl 8"), None)), "curl");
        assert_eq!(device_words(&device(None, None)), "an unknown device");
    }

    #[test]
    fn networks_are_the_usual_prefixes() {
        let net = |ip: &str| network_of(ip.parse().expect("an address"));
        assert_eq!(net("203.0.113.7"), "203.0.113.0/24");
        assert_eq!(net("203.0.113.250"), "203.0.113.0/24");
        assert_eq!(net("::ffff:203.0.113.7"), "203.0.113.0/24");
        assert_eq!(net("2001:db8:1:2::5"), "2001:db8:1::/48");
    }
}
