//! The room's view of its current flash sale.
//!
//! The sale itself lives in the sale store; the room keeps the latest copy
//! it announced, so join snapshots need no store call and the room can tell
//! which change to announce when the store reports a fresh copy: a state
//! change (started, sold out, back on sale, ended) is a `sale_updated`, a
//! stock change alone a `sale_stock`.

use crate::clock::UnixMillis;
use crate::protocol::{RoomEvent, SaleInfo, SaleState};

#[derive(Debug, Default)]
pub struct SaleView {
    sale: Option<SaleInfo>,
}

impl SaleView {
    pub fn current(&self) -> Option<&SaleInfo> {
        self.sale.as_ref()
    }

    /// A sale was created or ended by a request: always announced, with
    /// its product's stock after the change when that is known (the
    /// catalog copy is the room state's to update).
    pub fn replace(&mut self, sale: SaleInfo, product_stock: Option<u32>) -> RoomEvent {
        self.sale = Some(sale.clone());
        RoomEvent::SaleUpdated {
            sale,
            product_stock,
        }
    }

    /// A fresh read of the current sale from the store: the event that
    /// announces what changed, if anything did. A copy of another sale (an
    /// older one, read late) is ignored.
    pub fn refresh(&mut self, fresh: SaleInfo) -> Option<RoomEvent> {
        let current = self.sale.as_mut().filter(|s| s.id == fresh.id)?;
        let event = if current.state != fresh.state || current.ends_at != fresh.ends_at {
            RoomEvent::SaleUpdated {
                sale: fresh.clone(),
                product_stock: None,
            }
        } else if current.remaining != fresh.remaining {
            RoomEvent::SaleStock {
                sale_id: fresh.id.clone(),
                remaining: fresh.remaining,
            }
        } else {
            return None;
        };
        *current = fresh;
        Some(event)
    }
}

/// Has the clock moved `sale` to another state since it was last read (its
/// start or end time passed)?
pub fn transition_due(sale: &SaleInfo, now: UnixMillis) -> bool {
    match sale.state {
        SaleState::Scheduled => now >= sale.starts_at,
        SaleState::Live | SaleState::SoldOut => now >= sale.ends_at,
        SaleState::Ended => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(id: &str, state: SaleState, remaining: u32) -> SaleInfo {
        SaleInfo {
            id: id.into(),
            product_id: "p1".into(),
            product_name: "Chè".into(),
            price_vnd: 100,
            stock_total: 10,
            remaining,
            returned_to_stock: 0,
            per_buyer_limit: 2,
            state,
            starts_at: 1_000,
            ends_at: 2_000,
            hold_secs: 300,
        }
    }

    #[test]
    fn a_stock_change_is_announced_as_sale_stock() {
        let mut view = SaleView::default();
        view.replace(sale("s1", SaleState::Live, 10), None);
        let event = view.refresh(sale("s1", SaleState::Live, 7));
        assert_eq!(
            event,
            Some(RoomEvent::SaleStock {
                sale_id: "s1".into(),
                remaining: 7
            })
        );
        assert_eq!(view.refresh(sale("s1", SaleState::Live, 7)), None);
    }

    #[test]
    fn a_state_change_is_announced_as_sale_updated() {
        let mut view = SaleView::default();
        view.replace(sale("s1", SaleState::Live, 1), None);
        let event = view.refresh(sale("s1", SaleState::SoldOut, 0));
        assert!(
            matches!(event, Some(RoomEvent::SaleUpdated { sale, .. }) if sale.state == SaleState::SoldOut)
        );
    }

    #[test]
    fn a_late_copy_of_an_older_sale_is_ignored() {
        let mut view = SaleView::default();
        view.replace(sale("s2", SaleState::Live, 10), None);
        assert_eq!(view.refresh(sale("s1", SaleState::Ended, 0)), None);
        assert_eq!(view.current().unwrap().id, "s2");
    }

    #[test]
    fn start_and_end_times_make_a_refresh_due() {
        let scheduled = sale("s1", SaleState::Scheduled, 10);
        assert!(!transition_due(&scheduled, 999));
        assert!(transition_due(&scheduled, 1_000));
        let live = sale("s1", SaleState::Live, 10);
        assert!(!transition_due(&live, 1_999));
        assert!(transition_due(&live, 2_000));
        assert!(!transition_due(&sale("s1", SaleState::Ended, 10), 5_000));
    }
}
