//! The administrator's policy.

use super::Accounts;
use crate::error::{Error, Result};
use crate::model::{AccountId, RequestInfo, SecurityEventKind};
use crate::policy::Policy;

impl Accounts {
    /// Replaces the policy after checking it. The caller is responsible for making sure
    /// `admin` is an administrator (and, for an HTTP route, that their session is fresh);
    /// the change is recorded in the administrator's security log.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPolicy`] naming the field out of range.
    pub async fn set_policy(
        &self,
        admin: AccountId,
        policy: Policy,
        info: &RequestInfo,
    ) -> Result<Policy> {
        policy.check().map_err(Error::InvalidPolicy)?;
        self.inner.store.put_policy(&policy).await?;
        self.record(admin, SecurityEventKind::PolicyChanged, info, &[])
            .await?;
        Ok(policy)
    }
}
