//! The administrator's policy.

use super::Accounts;
use crate::error::{Error, Result};
use crate::model::AccountId;
use crate::policy::Policy;

impl Accounts {
    /// Replaces the policy after checking it. The caller is responsible for making sure
    /// `admin` is an administrator; the change is logged with their id.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPolicy`] naming the field out of range.
    pub async fn set_policy(&self, admin: AccountId, policy: Policy) -> Result<Policy> {
        policy.check().map_err(Error::InvalidPolicy)?;
        self.inner.store.put_policy(&policy).await?;
        tracing::info!(admin = %admin, "policy updated");
        Ok(policy)
    }
}
