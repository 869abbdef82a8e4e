//! The starter's settings, all optional, from environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;

/// Everything the starter reads from its environment.
#[derive(Debug)]
pub(crate) struct Settings {
    /// `ACCOUNT_BIND`: where to listen (127.0.0.1:8080; port 0 picks a free one).
    pub(crate) bind: SocketAddr,
    /// `DATABASE_URL`: `sqlite:`, `postgres:` or `mysql:` (a SQLite file under `./data`).
    pub(crate) database_url: String,
    /// `ACCOUNT_STORE`: the store adapter, `sqlx` (the default) or `diesel`; both take
    /// the same `DATABASE_URL` and serve the same database.
    pub(crate) store: StoreAdapter,
    /// `ACCOUNT_PUBLIC_URL`: the origin users reach (`http://localhost:PORT` on a loopback
    /// address, else `http://` plus the bound address).
    pub(crate) public_url: Option<url::Url>,
    /// `ACCOUNT_OUTBOX`: the folder mail is written to when there is no SMTP server.
    pub(crate) outbox: PathBuf,
    /// `ACCOUNT_SMTP_URL`: send mail through this SMTP server instead of the outbox.
    pub(crate) smtp_url: Option<String>,
    /// `ACCOUNT_SMTP_CA_FILE`: a PEM file of root certificates to trust for the SMTP
    /// server's certificate besides the built-in ones, for a server whose certificate a
    /// private CA issued; only with an `ACCOUNT_SMTP_URL` that uses TLS.
    pub(crate) smtp_ca_file: Option<PathBuf>,
    /// `ACCOUNT_MAIL_FROM`: the sender of every mail.
    pub(crate) mail_from: lettre::message::Mailbox,
    /// `ACCOUNT_TRUSTED_PROXIES`: comma-separated CIDRs whose forwarding headers are believed.
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// `ACCOUNT_ADMIN`: a bootstrap administrator, `username:email`.
    pub(crate) admin: Option<(String, String)>,
    /// `ACCOUNT_ADMIN_PASSWORD`: the bootstrap administrator's password (else one is made
    /// and printed once).
    pub(crate) admin_password: Option<String>,
}

/// Which adapter stores the accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreAdapter {
    /// `account-store-sqlx`.
    Sqlx,
    /// `account-store-diesel`.
    Diesel,
}

impl Settings {
    /// Reads the settings, naming the variable that is wrong.
    pub(crate) fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let bind = match get("ACCOUNT_BIND") {
            Some(v) => v.trim().parse().map_err(|e| {
                format!("ACCOUNT_BIND={v:?} is not an address like 127.0.0.1:8080: {e}")
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let public_url = get("ACCOUNT_PUBLIC_URL")
            .map(|v| {
                let url = url::Url::parse(v.trim())
                    .map_err(|e| format!("ACCOUNT_PUBLIC_URL={v:?} is not a URL: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(format!(
                        "ACCOUNT_PUBLIC_URL={v:?} must be an http:// or https:// origin"
                    ));
                }
                Ok(url)
            })
            .transpose()?;
        let trusted_proxies = get("ACCOUNT_TRUSTED_PROXIES")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        parse_net(s).ok_or_else(|| {
                            format!("ACCOUNT_TRUSTED_PROXIES: {s:?} is not an IP address or CIDR")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let admin = get("ACCOUNT_ADMIN")
            .map(|v| {
                v.split_once(':')
                    .map(|(u, e)| (u.trim().to_owned(), e.trim().to_owned()))
                    .ok_or_else(|| format!("ACCOUNT_ADMIN={v:?} must be username:email"))
            })
            .transpose()?;
        let mail_from = get("ACCOUNT_MAIL_FROM")
            .unwrap_or_else(|| "Account <noreply@localhost.localdomain>".to_owned());
        let mail_from = mail_from
            .parse()
            .map_err(|e| format!("ACCOUNT_MAIL_FROM={mail_from:?} is not a mailbox: {e}"))?;
        let store = match get("ACCOUNT_STORE").as_deref().map(str::trim) {
            None | Some("sqlx") => StoreAdapter::Sqlx,
            Some("diesel") => StoreAdapter::Diesel,
            Some(other) => {
                return Err(format!(
                    "ACCOUNT_STORE={other:?} must be sqlx (the default) or diesel"
                ));
            }
        };
        let smtp_url = get("ACCOUNT_SMTP_URL");
        let smtp_ca_file = get("ACCOUNT_SMTP_CA_FILE").map(PathBuf::from);
        if smtp_ca_file.is_some() && smtp_url.is_none() {
            return Err(
                "ACCOUNT_SMTP_CA_FILE is set but ACCOUNT_SMTP_URL is not: the CA is for \
                 the SMTP server's certificate"
                    .to_owned(),
            );
        }
        Ok(Self {
            bind,
            database_url: get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://./data/account.db".to_owned()),
            store,
            public_url,
            outbox: get("ACCOUNT_OUTBOX")
                .map_or_else(|| PathBuf::from("./data/outbox"), PathBuf::from),
            smtp_url,
            smtp_ca_file,
            mail_from,
            trusted_proxies,
            admin,
            admin_password: get("ACCOUNT_ADMIN_PASSWORD"),
        })
    }
}

/// A CIDR, or a bare address as a one-address network.
fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn everything_is_optional() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/account.db");
        assert_eq!(s.store, StoreAdapter::Sqlx);
        assert_eq!(s.outbox, PathBuf::from("./data/outbox"));
        assert!(s.public_url.is_none() && s.smtp_url.is_none() && s.admin.is_none());
        assert!(s.smtp_ca_file.is_none());
    }

    #[test]
    fn values_are_parsed_and_mistakes_named() {
        let s = settings(&[
            ("ACCOUNT_BIND", "0.0.0.0:9000"),
            ("ACCOUNT_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1,::1"),
            ("ACCOUNT_ADMIN", "root:root@example.com"),
            ("ACCOUNT_PUBLIC_URL", "https://accounts.example.com"),
        ])
        .expect("valid");
        assert_eq!(s.trusted_proxies.len(), 3);
        assert_eq!(s.admin, Some(("root".into(), "root@example.com".into())));
        for (var, value) in [
            ("ACCOUNT_BIND", "localhost"),
            ("ACCOUNT_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("ACCOUNT_ADMIN", "root"),
            ("ACCOUNT_PUBLIC_URL", "ftp://x"),
            ("ACCOUNT_MAIL_FROM", "not a mailbox"),
        ] {
            let err = settings(&[(var, value)]).expect_err("invalid");
            assert!(err.contains(var), "{err}");
        }
    }

    /// The CA file is read (and refused when it cannot be) where the mailer is made; here
    /// it is only taken, and refused without a server for it to check.
    #[test]
    fn an_smtp_ca_file_goes_with_an_smtp_url() {
        let s = settings(&[
            ("ACCOUNT_SMTP_URL", "smtp://mail.internal?tls=required"),
            ("ACCOUNT_SMTP_CA_FILE", "/etc/ssl/company-ca.pem"),
        ])
        .expect("valid");
        assert_eq!(
            s.smtp_ca_file,
            Some(PathBuf::from("/etc/ssl/company-ca.pem"))
        );
        let err = settings(&[("ACCOUNT_SMTP_CA_FILE", "/etc/ssl/company-ca.pem")])
            .expect_err("no server to check");
        assert!(err.contains("ACCOUNT_SMTP_CA_FILE"), "{err}");
        assert!(err.contains("ACCOUNT_SMTP_URL"), "{err}");
    }

    #[test]
    fn the_store_adapter_is_sqlx_or_diesel() {
        let diesel = settings(&[("ACCOUNT_STORE", "diesel")]).expect("diesel");
        assert_eq!(diesel.store, StoreAdapter::Diesel);
        let sqlx = settings(&[("ACCOUNT_STORE", "sqlx")]).expect("sqlx");
        assert_eq!(sqlx.store, StoreAdapter::Sqlx);
        let wrong = settings(&[("ACCOUNT_STORE", "seaorm")]).expect_err("refused");
        assert!(wrong.contains("ACCOUNT_STORE"), "{wrong}");
    }
}
