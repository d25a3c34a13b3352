//! Handing due deliveries over: each to its tenant's partition, into the stream when
//! its time has come, into the delayed set until then. Every path that turns stored
//! deliveries into queued ones (a new message, a resend, a recovery, a replay, a
//! released ordered delivery, the reconciler, an operational webhook) comes here.

use std::collections::BTreeMap;

use herald_core::DueDelivery;

use crate::{Partition, QueueResult, QueuedDelivery};

impl From<&DueDelivery> for QueuedDelivery {
    fn from(due: &DueDelivery) -> Self {
        Self {
            delivery_id: due.delivery_id.as_str().to_owned(),
            attempts_made: due.attempts_made,
            endpoint_id: due.endpoint_id.as_str().to_owned(),
        }
    }
}

/// Due deliveries sorted by partition and by whether their time has come.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sorted {
    /// To append to the partition's stream now.
    pub(crate) now: BTreeMap<Partition, Vec<QueuedDelivery>>,
    /// To park in the partition's delayed set until their due time (Unix ms).
    pub(crate) later: BTreeMap<Partition, Vec<(QueuedDelivery, i64)>>,
}

impl Sorted {
    pub(crate) fn new(due: &[DueDelivery], now_unix_ms: i64) -> Self {
        let mut sorted = Self::default();
        for delivery in due {
            let partition = Partition::for_tenant(delivery.tenant_id.as_str());
            if delivery.is_due(now_unix_ms) {
                sorted.now.entry(partition).or_default().push(delivery.into());
            } else {
                sorted.later.entry(partition).or_default().push((delivery.into(), delivery.due_unix_ms));
            }
        }
        sorted
    }
}

impl crate::Queue {
    /// Queues `due` and waits for Redis: the stream for those due now, the delayed
    /// set for the rest.
    pub async fn hand_off(&self, due: &[DueDelivery]) -> QueueResult<()> {
        let sorted = Sorted::new(due, chrono::Utc::now().timestamp_millis());
        self.enqueue_groups(sorted.now.iter().map(|(partition, queued)| (partition, queued.as_slice()))).await?;
        for (partition, parked) in &sorted.later {
            self.schedule(partition, parked).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use herald_core::{DeliveryId, EndpointId, TenantId};

    use super::*;

    fn due(tenant: u8, id: u8, at: i64) -> DueDelivery {
        DueDelivery {
            tenant_id: TenantId::generate(1, [tenant; 10]),
            delivery_id: DeliveryId::generate(1, [id; 10]),
            endpoint_id: EndpointId::generate(1, [0; 10]),
            attempts_made: 2,
            due_unix_ms: at,
        }
    }

    fn queued(id: u8) -> QueuedDelivery {
        let due = due(0, id, 0);
        QueuedDelivery {
            delivery_id: due.delivery_id.into_string(),
            attempts_made: 2,
            endpoint_id: due.endpoint_id.into_string(),
        }
    }

    #[test]
    fn deliveries_go_to_their_tenants_partition_now_or_later() {
        let sorted = Sorted::new(&[due(1, 1, 1_000), due(2, 2, 999), due(1, 3, 1_001)], 1_000);
        let a = Partition::for_tenant(due(1, 0, 0).tenant_id.as_str());
        let b = Partition::for_tenant(due(2, 0, 0).tenant_id.as_str());
        assert_eq!(sorted.now, BTreeMap::from([(a.clone(), vec![queued(1)]), (b, vec![queued(2)])]));
        assert_eq!(sorted.later, BTreeMap::from([(a, vec![(queued(3), 1_001)])]));
    }

    #[test]
    fn nothing_due_sorts_to_nothing() {
        assert_eq!(Sorted::new(&[], 1_000), Sorted::default());
    }
}
