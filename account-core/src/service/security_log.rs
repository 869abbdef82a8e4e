//! The security log: what happened to an account, newest first.

use super::Accounts;
use crate::error::Result;
use crate::model::{AccountId, EventPage, SecurityEvent};

/// The most events one page may hold.
pub const MAX_EVENT_PAGE: u32 = 200;

impl Accounts {
    /// A page of an account's security log, newest first. The limit is capped at
    /// [`MAX_EVENT_PAGE`].
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn security_events(
        &self,
        account: AccountId,
        page: EventPage,
    ) -> Result<Vec<SecurityEvent>> {
        let page = EventPage {
            limit: page.limit.clamp(1, MAX_EVENT_PAGE),
            ..page
        };
        Ok(self.inner.store.events_of(account, page).await?)
    }
}
