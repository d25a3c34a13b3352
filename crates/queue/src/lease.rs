//! Singleton jobs: a lease (`<prefix>:lease:<name>`) one worker holds at a time, taken
//! or renewed in one script so a lease that lapses between a check and a renewal is
//! never extended for someone else.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::queue::Queue;
use crate::QueueResult;

/// KEYS: lease. ARGV: holder, ttl ms. Takes the lease if free, renews it if the
/// holder holds it; 1 when the holder holds it afterwards.
const TAKE_LEASE_SCRIPT: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

static TAKE_LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE_LEASE_SCRIPT));

impl Queue {
    /// Takes (or renews) the lease `name` for `holder` for `ttl`. Returns whether
    /// `holder` holds it now. Used so one worker at a time runs the reconciler.
    pub async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> QueueResult<bool> {
        let mut conn = self.conn.clone();
        let held: i64 = TAKE_LEASE
            .key(self.keys.lease(name))
            .arg(holder)
            .arg(ttl.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(held == 1)
    }
}
