//! "Your own data": everything the library keeps of an account, for its owner to take
//! away before deleting it, or just to see.

use chrono::{DateTime, Utc};

use super::Accounts;
use super::sessions::{SessionView, SignedInSession};
use crate::error::Result;
use crate::model::{
    Account, ApiTokenRecord, AppPasswordRecord, EventFilter, EventPage, PasskeyRecord,
    SecondFactors, SecurityEvent, SshKeyRecord,
};

/// Everything kept of one account. The records still hold the digests the store keeps
/// (never a secret itself); an adapter that serialises an export shows each record as it
/// shows it in the settings, without them.
#[derive(Debug, Clone)]
pub struct AccountExport {
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// The profile and addresses.
    pub account: Account,
    /// Which second factors it has.
    pub second_factors: SecondFactors,
    /// Its passkeys.
    pub passkeys: Vec<PasskeyRecord>,
    /// Its live sessions, the one asking marked.
    pub sessions: Vec<SessionView>,
    /// Its personal API tokens.
    pub api_tokens: Vec<ApiTokenRecord>,
    /// Its app passwords.
    pub app_passwords: Vec<AppPasswordRecord>,
    /// Its SSH keys.
    pub ssh_keys: Vec<SshKeyRecord>,
    /// Its whole security log, newest first.
    pub security_events: Vec<SecurityEvent>,
}

/// How many events are read per store call while exporting the whole log.
const EVENT_BATCH: u32 = 500;

impl Accounts {
    /// Everything kept of the signed-in user's account.
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn export_account(&self, session: &SignedInSession) -> Result<AccountExport> {
        let account = self.account_of(session).await?;
        let id = account.id;
        let store = &self.inner.store;
        let mut security_events = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .events(
                    &EventFilter::account(id),
                    EventPage {
                        before,
                        limit: EVENT_BATCH,
                    },
                )
                .await?;
            let full = page.len() == EVENT_BATCH as usize;
            before = page.last().map(SecurityEvent::cursor);
            security_events.extend(page);
            if !full {
                break;
            }
        }
        Ok(AccountExport {
            exported_at: self.now(),
            second_factors: store.second_factors(id).await?,
            passkeys: self.passkeys(id).await?,
            sessions: self.sessions(id, Some(session.id)).await?,
            api_tokens: self.api_tokens(id).await?,
            app_passwords: self.app_passwords(id).await?,
            ssh_keys: self.ssh_keys(id).await?,
            security_events,
            account,
        })
    }
}
