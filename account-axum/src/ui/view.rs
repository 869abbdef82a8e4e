//! What several pages show the same way: moments, devices, and the security log (the
//! owner's on Security, any account's in Administration).

use chrono::{DateTime, SecondsFormat, Utc};

use account_core::device::{ClientHints, parse_device};
use account_core::model::{SecurityEvent, SecurityEventKind};

use super::Tr;

/// A moment as the pages show it: readable text, and the exact time for
/// `<time datetime>`. The pages do not know the viewer's time zone, so both are UTC and
/// say so.
pub(crate) struct When {
    pub(crate) iso: String,
    pub(crate) text: String,
}

impl When {
    pub(crate) fn of(at: DateTime<Utc>) -> When {
        When {
            iso: at.to_rfc3339_opts(SecondsFormat::Secs, true),
            text: at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// The first value of `name` in a query string.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A browser and its system in a few words ("Firefox 128, Linux"), or the catalog's
/// "Unknown device".
pub(crate) fn device_summary(t: Tr, browser: Option<&str>, os: Option<&str>) -> String {
    match (browser, os) {
        (Some(browser), Some(os)) => format!("{browser}, {os}"),
        (Some(one), None) | (None, Some(one)) => one.to_owned(),
        (None, None) => t.get("log.unknown_device").to_owned(),
    }
}

/// The catalog key of an event's kind.
pub(crate) fn event_key(kind: SecurityEventKind) -> String {
    format!("event.{}", kind.as_str())
}

/// One entry of a security log, as `ui/events_table.html` shows it.
pub(crate) struct EventRow {
    pub(crate) when: When,
    /// What happened, in the page's language (the kind's own name for a kind a newer core
    /// added before the catalogs knew it).
    pub(crate) label: String,
    pub(crate) ip: String,
    pub(crate) device: String,
    /// The log's own facts (a method, a count, who did it), never a secret.
    pub(crate) details: String,
}

impl EventRow {
    pub(crate) fn of(t: Tr, event: &SecurityEvent) -> EventRow {
        // The log keeps the user agent; the same parser as the sessions' names its
        // browser and system.
        let device = parse_device(event.user_agent.as_deref(), &ClientHints::default());
        let key = event_key(event.kind);
        EventRow {
            when: When::of(event.at),
            label: t.text_or(&key, event.kind.as_str()).to_owned(),
            ip: event
                .ip
                .map_or_else(|| t.get("log.unknown").to_owned(), |ip| ip.to_string()),
            device: device_summary(t, device.browser.as_deref(), device.os.as_deref()),
            details: event
                .details
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::Catalogs;

    #[test]
    fn every_kind_of_event_has_a_label_in_each_language() {
        for t in Catalogs::built_in().languages() {
            for kind in SecurityEventKind::ALL {
                let key = event_key(*kind);
                assert_ne!(t.get(&key), key, "{} lacks {key}", t.tag());
            }
        }
    }

    #[test]
    fn moments_are_readable_and_exact() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T21:04:59Z")
            .expect("a time")
            .with_timezone(&Utc);
        let when = When::of(at);
        assert_eq!(when.text, "2026-11-30 21:04 UTC");
        assert_eq!(when.iso, "2026-11-30T21:04:59Z");
    }
}
