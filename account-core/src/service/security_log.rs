//! The security log: what happened to an account, newest first.

use super::Accounts;
use crate::error::Result;
use crate::model::{EventFilter, EventPage, SecurityEvent};

/// The most events one page may hold.
pub const MAX_EVENT_PAGE: u32 = 200;

impl Accounts {
    /// A page of the security log, newest first: one account's
    /// ([`EventFilter::account`]), or every account's for an administrator. The limit is
    /// capped at [`MAX_EVENT_PAGE`].
    ///
    /// # Errors
    ///
    /// Only storage errors.
    pub async fn security_events(
        &self,
        filter: EventFilter,
        page: EventPage,
    ) -> Result<Vec<SecurityEvent>> {
        let page = EventPage {
            limit: page.limit.clamp(1, MAX_EVENT_PAGE),
            ..page
        };
        Ok(self.inner.store.events(&filter, page).await?)
    }
}
