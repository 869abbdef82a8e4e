//! Connections kept between reads, on PostgreSQL and MySQL.
//!
//! sqlx's pool pings a connection when it lends it and again when it takes it back, to
//! be sure it still works: each ping is a round trip to the database server, so a read of
//! one row lent from the pool costs three. The read of every authenticated request is such
//! a read. Reads outside a transaction therefore keep some of the pool's connections
//! between reads, and lend them to one read at a time without a ping.
//!
//! At most half of the pool is kept this way, so that writes and transactions, which go
//! through the pool as before, always find the other half. A read waits for a kept
//! connection (or for the pool to lend one, pinged, when fewer are kept yet) no longer
//! than the pool's acquire timeout.
//!
//! A kept connection may have broken since its last read (the server restarted, a proxy
//! dropped it). A read that finds its connection broken is closed with it and runs once
//! more on a connection the pool lends, which the pool pings first: a read is safe to
//! repeat, and the caller sees a failure only when the database cannot be reached at all.
//! A read cancelled half-way gives its connection back to the pool, which pings it (and
//! so reads away what the server still had to say) before lending it again.
//!
//! A server that refuses connections (it is stopped or restarting) does not make a call
//! wait: sqlx's pool takes a refused connection for a server still starting and tries
//! again until the acquire timeout (5 s by default) runs out, so every call that asked the
//! pool for a connection during an outage would wait that long before it failed, the
//! probe that `account-core`'s outage breaker lets through each second included. So once a
//! connection has failed (or the pool gave up waiting), the store is marked as having lost
//! its server, and until the server accepts a connection again each call first opens one
//! of its own, outside the pool ([`Kept::ready`]): refused, the call fails at once; taken,
//! the mark goes and the call goes to the pool as usual.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::pool::PoolConnection;
use sqlx::{ConnectOptions as _, Connection as _, Database, Pool};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::db::connection_failed;

/// A pool, and the connections kept out of it for reads.
pub(crate) struct Kept<DB: Database> {
    pool: Pool<DB>,
    reads: Arc<Reads<DB>>,
    /// Set when a connection failed or the pool gave up waiting for one, cleared when the
    /// server accepts a connection again (see the module's docs). Shared with the
    /// transactions, whose statements can find the server gone too.
    lost: Arc<AtomicBool>,
}

struct Reads<DB: Database> {
    /// One permit per connection that may be kept: a read holds one while it runs.
    permits: Semaphore,
    /// The kept connections not in use.
    idle: Mutex<Vec<PoolConnection<DB>>>,
}

impl<DB: Database> Clone for Kept<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            reads: Arc::clone(&self.reads),
            lost: Arc::clone(&self.lost),
        }
    }
}

impl<DB: Database> std::fmt::Debug for Kept<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("pool", &self.pool)
            .field("kept_idle", &self.idle().len())
            .finish()
    }
}

impl<DB: Database> Kept<DB> {
    /// Keeps up to half of `pool`'s connections for reads (at least one).
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        let keep = (pool.options().get_max_connections() / 2).max(1);
        Self {
            reads: Arc::new(Reads {
                permits: Semaphore::new(usize::try_from(keep).unwrap_or(1)),
                idle: Mutex::new(Vec::new()),
            }),
            pool,
            lost: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The pool, for writes and transactions.
    pub(crate) fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The mark of a lost server, for a transaction to set when its connection fails.
    pub(crate) fn lost(&self) -> &Arc<AtomicBool> {
        &self.lost
    }

    /// Fails at once while the server is marked lost and still refuses connections,
    /// instead of letting the pool retry the refused connection until its acquire timeout.
    /// Costs nothing while the server answers; while it is marked lost, one connection of
    /// its own per call, closed at once.
    ///
    /// # Errors
    ///
    /// The connection's failure, when it says the server cannot be reached (see
    /// `connection_failed`); `PoolTimedOut` when the connection takes longer than the
    /// acquire timeout. Any other refusal (too many connections, say) is left to the pool,
    /// which knows how to wait for one of its own.
    pub(crate) async fn ready(&self) -> sqlx::Result<()> {
        if !self.lost.load(Ordering::Acquire) {
            return Ok(());
        }
        let timeout = self.pool.options().get_acquire_timeout();
        match tokio::time::timeout(timeout, self.pool.connect_options().connect()).await {
            Ok(Ok(conn)) => {
                self.lost.store(false, Ordering::Release);
                // Only the answer mattered; a failure to say goodbye changes nothing.
                let _ = conn.close().await;
                Ok(())
            }
            Ok(Err(e)) if connection_failed(&e) => Err(e),
            Ok(Err(_)) => Ok(()),
            Err(_elapsed) => Err(sqlx::Error::PoolTimedOut),
        }
    }

    /// Marks the server lost when `result` says it could not be reached.
    pub(crate) fn watch<T>(&self, result: &sqlx::Result<T>) {
        mark_lost(&self.lost, result);
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PoolConnection<DB>>> {
        // A panic while the list was held left it a list all the same.
        self.reads
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection for one read: a kept one, or one the pool lends when none is idle
    /// (kept afterwards). Give it back with [`Lent::done`].
    pub(crate) async fn lend(&self) -> sqlx::Result<Lent<'_, DB>> {
        let timeout = self.pool.options().get_acquire_timeout();
        let permit = match tokio::time::timeout(timeout, self.reads.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(sqlx::Error::PoolClosed),
            Err(_elapsed) => return Err(sqlx::Error::PoolTimedOut),
        };
        let kept = self.idle().pop();
        let was_kept = kept.is_some();
        let conn = match kept {
            Some(conn) => conn,
            None => {
                self.ready().await?;
                let conn = self.pool.acquire().await;
                self.watch(&conn);
                conn?
            }
        };
        Ok(Lent {
            kept: self,
            _permit: permit,
            conn,
            was_kept,
        })
    }

    /// Closes the pool: no read starts after this, the kept connections go back to the pool
    /// and are closed with it. Waits, as sqlx's `close` does, for the connections in use.
    pub(crate) async fn close(&self) {
        self.reads.permits.close();
        let kept = std::mem::take(&mut *self.idle());
        // Dropped, each goes back to the pool.
        drop(kept);
        self.pool.close().await;
    }
}

/// A connection lent to one read. Dropped without [`done`](Lent::done) (the read was
/// cancelled), it goes back to the pool, which checks it.
pub(crate) struct Lent<'k, DB: Database> {
    kept: &'k Kept<DB>,
    _permit: SemaphorePermit<'k>,
    conn: PoolConnection<DB>,
    /// Whether the connection was kept from an earlier read, rather than just pinged by
    /// the pool.
    was_kept: bool,
}

impl<DB: Database> Lent<'_, DB> {
    pub(crate) fn conn(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }

    /// Ends the read that gave `result`: keeps the connection and hands back the result,
    /// or, when the connection was kept and is found broken, closes it and lends one from
    /// the pool to run the read again on (`Err`). A connection the pool has just pinged is
    /// not tried twice: its failure is the read's.
    pub(crate) async fn done<T>(
        mut self,
        result: sqlx::Result<T>,
    ) -> Result<sqlx::Result<T>, Self> {
        if result.as_ref().is_err_and(connection_failed) {
            self.conn.close_on_drop();
            self.kept.watch(&result);
            if !self.was_kept {
                return Ok(result);
            }
            // A restart breaks every kept connection, and then the server is either back
            // (the read runs again) or still down (the read fails now, not after the
            // pool's timeout).
            if let Err(e) = self.kept.ready().await {
                return Ok(Err(e));
            }
            let fresh = self.kept.pool.acquire().await;
            self.kept.watch(&fresh);
            match fresh {
                Ok(fresh) => {
                    // The broken one is dropped here, and closed.
                    self.conn = fresh;
                    self.was_kept = false;
                    return Err(self);
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        // An error the database answered leaves the connection as good as before. Once
        // the pool is closing, the connection goes back to it instead (`close` waits for
        // it); the check is made under the lock `close` takes after closing.
        let mut idle = self.kept.idle();
        if !self.kept.reads.permits.is_closed() {
            idle.push(self.conn);
        }
        Ok(result)
    }
}

/// Sets `lost` when `result` says the server could not be reached: a connection failed,
/// or the pool gave up waiting for one (which is how a refused connection ends in sqlx's
/// pool).
fn mark_lost<T>(lost: &AtomicBool, result: &sqlx::Result<T>) {
    if result
        .as_ref()
        .is_err_and(|e| connection_failed(e) || matches!(e, sqlx::Error::PoolTimedOut))
    {
        lost.store(true, Ordering::Release);
    }
}
