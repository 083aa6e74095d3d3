//! Vouchers in the Redis store: definitions in `{room:R}:vouchers` (code →
//! JSON, written once), counts and who claimed or used each in
//! `{room:R}:voucher_uses`, changed only by the functions
//! `chophien_voucher_create`, `_drop`, `_claim` and by `chophien_confirm`
//! (a use, with its order).

use super::codec::{internal, parse_json, refusal, split_reply, RoomKeys};
use super::RedisSaleStore;
use crate::clock::UnixMillis;
use crate::sale::voucher::{self, NewVoucher, Voucher};
use crate::sale::{validate, SaleError};

impl RedisSaleStore {
    /// One voucher function over the room's two voucher keys.
    async fn voucher_call(
        &self,
        room_id: &str,
        function: &str,
        args: &[&str],
    ) -> Result<(), SaleError> {
        let keys = RoomKeys::new(room_id);
        let reply = self
            .link
            .fcall(function, &[keys.vouchers, keys.voucher_uses], args)
            .await?;
        let (outcome, _) = split_reply(reply)?;
        match outcome.as_str() {
            "ok" => Ok(()),
            other => Err(refusal(other)),
        }
    }

    pub(super) async fn add_voucher(
        &self,
        room_id: &str,
        new: NewVoucher,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        validate::room_id(room_id)?;
        let made = voucher::new_voucher(new, now)?;
        let json = serde_json::to_string(&made).map_err(internal)?;
        self.voucher_call(room_id, "chophien_voucher_create", &[&made.code, &json])
            .await?;
        Ok(made)
    }

    /// Every voucher of the room with its counts: the definitions, then the
    /// three counts of each (one pipeline).
    pub(super) async fn list_vouchers(&self, room_id: &str) -> Result<Vec<Voucher>, SaleError> {
        validate::room_id(room_id)?;
        let keys = RoomKeys::new(room_id);
        let raw: Vec<String> = self.run(redis::cmd("HVALS").arg(&keys.vouchers)).await?;
        let mut found = raw
            .iter()
            .map(|json| parse_json::<Voucher>(json))
            .collect::<Result<Vec<_>, _>>()?;
        if found.is_empty() {
            return Ok(found);
        }
        let mut counts = redis::pipe();
        for v in &found {
            read_counts(&mut counts, &keys, &v.code);
        }
        let read: Vec<Counts> = self.run_pipe(&counts).await?;
        for (v, counts) in found.iter_mut().zip(read) {
            apply_counts(v, counts);
        }
        found.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(found)
    }

    /// The room's voucher `code` as it now stands.
    async fn one_voucher(&self, room_id: &str, code: &str) -> Result<Voucher, SaleError> {
        let keys = RoomKeys::new(room_id);
        let mut read = redis::pipe();
        read.hget(&keys.vouchers, code);
        read_counts(&mut read, &keys, code);
        let (raw, counts): (Option<String>, Counts) = self.run_pipe(&read).await?;
        let mut voucher: Voucher = parse_json(&raw.ok_or(SaleError::VoucherNotFound)?)?;
        apply_counts(&mut voucher, counts);
        Ok(voucher)
    }

    pub(super) async fn open_voucher(
        &self,
        room_id: &str,
        code: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        validate::room_id(room_id)?;
        let code = voucher::normalize_code(code).ok_or(SaleError::VoucherNotFound)?;
        let now_arg = now.to_string();
        self.voucher_call(room_id, "chophien_voucher_drop", &[&now_arg, &code])
            .await?;
        self.one_voucher(room_id, &code).await
    }

    pub(super) async fn take_voucher(
        &self,
        room_id: &str,
        code: &str,
        buyer_id: &str,
        now: UnixMillis,
    ) -> Result<Voucher, SaleError> {
        validate::room_id(room_id)?;
        let code = voucher::normalize_code(code).ok_or(SaleError::VoucherNotFound)?;
        let now_arg = now.to_string();
        self.voucher_call(
            room_id,
            "chophien_voucher_claim",
            &[&now_arg, &code, buyer_id],
        )
        .await?;
        self.one_voucher(room_id, &code).await
    }
}

/// A voucher's `used`, `claimed` and `dropped` fields as read.
type Counts = (Option<u32>, Option<u32>, Option<String>);

/// Adds the read of `code`'s counts to `pipe`.
fn read_counts(pipe: &mut redis::Pipeline, keys: &RoomKeys, code: &str) {
    pipe.cmd("HMGET")
        .arg(&keys.voucher_uses)
        .arg(format!("{code} used"))
        .arg(format!("{code} claimed"))
        .arg(format!("{code} dropped"));
}

fn apply_counts(voucher: &mut Voucher, (used, claimed, dropped): Counts) {
    voucher.used = used.unwrap_or(0);
    voucher.claimed = claimed.unwrap_or(0);
    voucher.dropped = dropped.is_some();
}
