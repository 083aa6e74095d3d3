//! Vouchers in the memory store: each voucher with who claimed or used it,
//! checked and changed under the store's one lock (the same rules as the
//! Redis functions in `chophien.lua`).

use std::collections::{HashMap, HashSet};

use super::MemorySaleStore;
use crate::clock::UnixMillis;
use crate::sale::voucher::{self, NewVoucher, Voucher};
use crate::sale::{validate, SaleError};

/// One voucher and its counts.
pub(super) struct VoucherBook {
    /// `used`, `claimed` and `dropped` are kept current here.
    pub(super) voucher: Voucher,
    buyers: HashMap<String, Use>,
    /// Shipping phones that used it (a person with two identities uses it once).
    phones: HashSet<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Claimed,
    Used,
}

impl VoucherBook {
    /// May `buyer`, shipping to `phone`, use it at `now`?
    pub(super) fn check_use(
        &self,
        buyer: &str,
        phone: &str,
        now: UnixMillis,
    ) -> Result<(), SaleError> {
        let v = &self.voucher;
        if !v.valid_at(now) {
            return Err(SaleError::VoucherExpired);
        }
        let by = self.buyers.get(buyer).copied();
        if by == Some(Use::Used) || self.phones.contains(phone) {
            return Err(SaleError::VoucherAlreadyUsed);
        }
        if v.drop {
            if by != Some(Use::Claimed) {
                return Err(SaleError::VoucherNotClaimed);
            }
        } else if v.used >= v.total_uses {
            return Err(SaleError::VoucherUsedUp);
        }
        Ok(())
    }

    /// Undoes a use whose order was cancelled: a drop goes back to
    /// claimed, a typed voucher may be used again.
    pub(super) fn give_back_use(&mut self, buyer: &str, phone: &str) {
        self.voucher.used = self.voucher.used.saturating_sub(1);
        if self.voucher.drop {
            self.buyers.insert(buyer.to_owned(), Use::Claimed);
        } else {
            self.buyers.remove(buyer);
        }
        self.phones.remove(phone);
    }

    /// Records a use that [`check_use`](Self::check_use) allowed.
    pub(super) fn record_use(&mut self, buyer: &str, phone: &str) {
        self.voucher.used += 1;
        self.buyers.insert(buyer.to_owned(), Use::Used);
        self.phones.insert(phone.to_owned());
    }
}

impl MemorySaleStore {
    pub(super) fn add_voucher(
        &self,
        room_id: &str,
        new: NewVoucher,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        validate::room_id(room_id)?;
        let made = voucher::new_voucher(new, now)?;
        let mut sales = self.inner.lock();
        let key = (room_id.to_owned(), made.code.clone());
        if sales.books.vouchers.contains_key(&key) {
            return Err(SaleError::VoucherExists);
        }
        let book = VoucherBook {
            voucher: made.clone(),
            buyers: HashMap::new(),
            phones: HashSet::new(),
        };
        sales.books.vouchers.insert(key, book);
        Ok(made)
    }

    pub(super) fn list_vouchers(&self, room_id: &str) -> Result<Vec<Voucher>, SaleError> {
        validate::room_id(room_id)?;
        let sales = self.inner.lock();
        let mut found: Vec<Voucher> = sales
            .books
            .vouchers
            .iter()
            .filter(|((room, _), _)| room == room_id)
            .map(|(_, book)| book.voucher.clone())
            .collect();
        found.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(found)
    }

    /// Runs `f` on the room's voucher `code`, under the lock.
    fn with_voucher<T>(
        &self,
        room_id: &str,
        code: &str,
        f: impl FnOnce(&mut VoucherBook) -> Result<T, SaleError>,
    ) -> Result<T, SaleError> {
        validate::room_id(room_id)?;
        let code = voucher::normalize_code(code).ok_or(SaleError::VoucherNotFound)?;
        let mut sales = self.inner.lock();
        let book = sales
            .books
            .vouchers
            .get_mut(&(room_id.to_owned(), code))
            .ok_or(SaleError::VoucherNotFound)?;
        f(book)
    }

    pub(super) fn open_voucher(
        &self,
        room_id: &str,
        code: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.with_voucher(room_id, code, |book| {
            if !book.voucher.drop {
                return Err(SaleError::VoucherNotDropped);
            }
            if !book.voucher.valid_at(now) {
                return Err(SaleError::VoucherExpired);
            }
            book.voucher.dropped = true;
            Ok(book.voucher.clone())
        })
    }

    pub(super) fn take_voucher(
        &self,
        room_id: &str,
        code: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        self.with_voucher(room_id, code, |book| {
            let v = &book.voucher;
            if !v.drop || !v.dropped {
                return Err(SaleError::VoucherNotDropped);
            }
            if !v.valid_at(now) {
                return Err(SaleError::VoucherExpired);
            }
            match book.buyers.get(buyer_id) {
                Some(Use::Claimed) => return Ok(book.voucher.clone()),
                Some(Use::Used) => return Err(SaleError::VoucherAlreadyUsed),
                None => {}
            }
            if v.claimed >= v.total_uses {
                return Err(SaleError::VoucherUsedUp);
            }
            book.voucher.claimed += 1;
            book.buyers.insert(buyer_id.to_owned(), Use::Claimed);
            Ok(book.voucher.clone())
        })
    }
}
