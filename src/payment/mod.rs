//! Payment by bank transfer: the seller's bank account and the VietQR code a
//! buyer scans to pay an order.
//!
//! Small Vietnamese shops take cash on delivery (the default, which needs
//! nothing here) or a bank transfer. For a transfer the seller gives a
//! [`BankAccount`] once per room; every order then gets a VietQR code (the
//! NAPAS profile of the EMVCo merchant-presented QR, [`vietqr`]) that any
//! Vietnamese banking app reads: the bank, the account, the exact amount and
//! a note naming the order are filled in for the buyer, who only confirms.
//!
//! - this file: [`BankAccount`] and its rules, [`PaymentError`], the table
//!   of well-known banks ([`BANKS`]) and [`ascii_fold`], the one way
//!   Vietnamese text becomes the ASCII a QR payload and a bank accept;
//! - [`vietqr`]: the payload (TLV fields, CRC) and its rendering as SVG
//!   and PNG;
//! - [`store`]: where each room's account is kept (memory, or Redis beside
//!   the room's other keys).
//!
//! Knows rooms only by id, and nothing of HTTP, tokens or orders: the
//! service layer (`server/payment.rs`) decides who may see what and which
//! amount and note an order's code carries.

pub mod store;
pub mod vietqr;

use serde::Serialize;

pub use store::{room_payment_key, PaymentStore};

/// Why a payment operation was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// A value the seller (or a caller) gave breaks a rule: `field` names it
    /// as the HTTP body does (`bin`, `account_number`, `account_name`,
    /// `amount_vnd`, `room_id`), `reason` says why, for people.
    #[error("{field} {reason}")]
    InvalidValue { field: &'static str, reason: String },
    /// The store did not answer in time or is down; safe to retry.
    #[error("the payment store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered something unreadable, or a code could not be
    /// drawn: a bug, never the caller's input.
    #[error("payment error: {0}")]
    Internal(String),
}

impl PaymentError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> PaymentError {
        PaymentError::InvalidValue {
            field,
            reason: reason.into(),
        }
    }
}

/// The longest account name a bank shows and a VietQR code carries.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 50;

/// A seller's bank account, as checked and normalised by [`BankAccount::new`]:
/// every instance holds valid values (fields are read-only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccount {
    /// The bank's NAPAS BIN: 6 digits ([`BANKS`] lists well-known ones; any
    /// 6-digit BIN is accepted, banks are added faster than we ship).
    bin: String,
    /// 6 to 19 digits.
    account_number: String,
    /// Shown to the buyer before she pays, as banks print it: uppercase
    /// ASCII letters, digits and single spaces, 1 to 50 characters.
    account_name: String,
}

impl BankAccount {
    /// Checks and normalises an account: surrounding whitespace is trimmed
    /// from every field; the name is folded to ASCII (`Nguyễn Thị Đào` →
    /// `NGUYEN THI DAO`), uppercased, with runs of spaces made one. Refuses
    /// with [`PaymentError::InvalidValue`] naming the first bad field.
    pub fn new(
        bin: &str,
        account_number: &str,
        account_name: &str,
    ) -> Result<BankAccount, PaymentError> {
        let bin = bin.trim();
        if bin.len() != 6 || !all_digits(bin) {
            return Err(PaymentError::invalid(
                "bin",
                "must be the bank's 6-digit NAPAS BIN",
            ));
        }
        let account_number = account_number.trim();
        if !(6..=19).contains(&account_number.len()) || !all_digits(account_number) {
            return Err(PaymentError::invalid(
                "account_number",
                "must have 6 to 19 digits and nothing else",
            ));
        }
        let account_name = normalise_account_name(account_name)?;
        Ok(BankAccount {
            bin: bin.to_owned(),
            account_number: account_number.to_owned(),
            account_name,
        })
    }

    pub fn bin(&self) -> &str {
        &self.bin
    }

    pub fn account_number(&self) -> &str {
        &self.account_number
    }

    pub fn account_name(&self) -> &str {
        &self.account_name
    }

    /// The bank of [`BANKS`] with this account's BIN, if it is a known one.
    pub fn bank(&self) -> Option<&'static Bank> {
        bank_by_bin(&self.bin)
    }
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

fn normalise_account_name(raw: &str) -> Result<String, PaymentError> {
    let folded = ascii_fold(raw).to_ascii_uppercase();
    if let Some(bad) = folded
        .chars()
        .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c.is_whitespace()))
    {
        return Err(PaymentError::invalid(
            "account_name",
            format!("may hold only letters, digits and spaces (found {bad:?})"),
        ));
    }
    let name = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(PaymentError::invalid("account_name", "must not be empty"));
    }
    if name.len() > MAX_ACCOUNT_NAME_CHARS {
        return Err(PaymentError::invalid(
            "account_name",
            format!("must have at most {MAX_ACCOUNT_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

/// Vietnamese (or any) text as ASCII: diacritics dropped, `đ`/`Đ` as
/// `d`/`D`, other scripts transliterated (`deunicode`). Callers then keep
/// the characters their field allows.
pub fn ascii_fold(text: &str) -> String {
    deunicode::deunicode(text)
}

/// A bank a seller may pick from a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bank {
    /// The name people use (`Vietcombank`).
    pub short_name: &'static str,
    /// The registered name (`Ngân hàng TMCP Ngoại Thương Việt Nam`).
    pub name: &'static str,
    /// NAPAS BIN, 6 digits.
    pub bin: &'static str,
}

const fn bank(short_name: &'static str, name: &'static str, bin: &'static str) -> Bank {
    Bank {
        short_name,
        name,
        bin,
    }
}

/// Well-known Vietnamese banks and their NAPAS BINs, for the seller's
/// dropdown, by short name. Only BINs published identically by NAPAS'
/// VietQR bank list; any other 6-digit BIN is still accepted.
pub const BANKS: &[Bank] = &[
    bank("ABBANK", "Ngân hàng TMCP An Bình", "970425"),
    bank("ACB", "Ngân hàng TMCP Á Châu", "970416"),
    bank(
        "Agribank",
        "Ngân hàng Nông nghiệp và Phát triển Nông thôn Việt Nam",
        "970405",
    ),
    bank("Bac A Bank", "Ngân hàng TMCP Bắc Á", "970409"),
    bank("BaoVietBank", "Ngân hàng TMCP Bảo Việt", "970438"),
    bank(
        "BIDV",
        "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam",
        "970418",
    ),
    bank(
        "Eximbank",
        "Ngân hàng TMCP Xuất Nhập khẩu Việt Nam",
        "970431",
    ),
    bank(
        "HDBank",
        "Ngân hàng TMCP Phát triển Thành phố Hồ Chí Minh",
        "970437",
    ),
    bank("KienlongBank", "Ngân hàng TMCP Kiên Long", "970452"),
    bank(
        "LPBank",
        "Ngân hàng TMCP Lộc Phát Việt Nam (LienVietPostBank)",
        "970449",
    ),
    bank("MB", "Ngân hàng TMCP Quân đội", "970422"),
    bank("MSB", "Ngân hàng TMCP Hàng Hải Việt Nam", "970426"),
    bank("Nam A Bank", "Ngân hàng TMCP Nam Á", "970428"),
    bank("NCB", "Ngân hàng TMCP Quốc Dân", "970419"),
    bank("OCB", "Ngân hàng TMCP Phương Đông", "970448"),
    bank(
        "PGBank",
        "Ngân hàng TMCP Thịnh vượng và Phát triển",
        "970430",
    ),
    bank("PVcomBank", "Ngân hàng TMCP Đại Chúng Việt Nam", "970412"),
    bank("Sacombank", "Ngân hàng TMCP Sài Gòn Thương Tín", "970403"),
    bank("Saigonbank", "Ngân hàng TMCP Sài Gòn Công Thương", "970400"),
    bank("SeABank", "Ngân hàng TMCP Đông Nam Á", "970440"),
    bank("SHB", "Ngân hàng TMCP Sài Gòn - Hà Nội", "970443"),
    bank("Techcombank", "Ngân hàng TMCP Kỹ thương Việt Nam", "970407"),
    bank("TPBank", "Ngân hàng TMCP Tiên Phong", "970423"),
    bank("VIB", "Ngân hàng TMCP Quốc tế Việt Nam", "970441"),
    bank("VietABank", "Ngân hàng TMCP Việt Á", "970427"),
    bank("VietBank", "Ngân hàng TMCP Việt Nam Thương Tín", "970433"),
    bank(
        "Vietcombank",
        "Ngân hàng TMCP Ngoại Thương Việt Nam",
        "970436",
    ),
    bank(
        "VietinBank",
        "Ngân hàng TMCP Công thương Việt Nam",
        "970415",
    ),
    bank("VPBank", "Ngân hàng TMCP Việt Nam Thịnh Vượng", "970432"),
];

/// The bank of [`BANKS`] with this BIN.
pub fn bank_by_bin(bin: &str) -> Option<&'static Bank> {
    BANKS.iter().find(|bank| bank.bin == bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<BankAccount, PaymentError>) -> &'static str {
        match result {
            Err(PaymentError::InvalidValue { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_vietnamese_name_is_folded_to_uppercase_ascii() {
        let account = BankAccount::new(" 970436 ", "0011001234567", "  Nguyễn  Thị Đào ").unwrap();
        assert_eq!(account.bin(), "970436");
        assert_eq!(account.account_number(), "0011001234567");
        assert_eq!(account.account_name(), "NGUYEN THI DAO");
        assert_eq!(account.bank().map(|b| b.short_name), Some("Vietcombank"));
        let shop = BankAccount::new("970407", "190312345678", "Cửa hàng Trà Tân Cương 2").unwrap();
        assert_eq!(shop.account_name(), "CUA HANG TRA TAN CUONG 2");
    }

    #[test]
    fn a_bin_is_six_digits_known_or_not() {
        assert!(BankAccount::new("999999", "123456", "LAN").is_ok());
        for bad in ["", "97043", "9704361", "97043a", "９７０４３６"] {
            assert_eq!(
                field(BankAccount::new(bad, "123456", "LAN")),
                "bin",
                "{bad}"
            );
        }
    }

    #[test]
    fn an_account_number_has_six_to_nineteen_digits() {
        assert!(BankAccount::new("970436", "123456", "LAN").is_ok());
        assert!(BankAccount::new("970436", "1234567890123456789", "LAN").is_ok());
        for bad in [
            "12345",
            "12345678901234567890",
            "0011-0012",
            "00110012x",
            "",
        ] {
            assert_eq!(
                field(BankAccount::new("970436", bad, "LAN")),
                "account_number",
                "{bad}"
            );
        }
    }

    #[test]
    fn an_account_name_is_letters_digits_and_spaces_up_to_fifty() {
        assert!(BankAccount::new("970436", "123456", &"A".repeat(50)).is_ok());
        for bad in ["", "   ", "A&B", "LAN@SHOP", "<script>", &"A".repeat(51)] {
            assert_eq!(
                field(BankAccount::new("970436", "123456", bad)),
                "account_name",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_refusal_names_the_field() {
        let error = BankAccount::new("97043", "123456", "LAN").unwrap_err();
        assert!(error.to_string().starts_with("bin "), "{error}");
    }

    #[test]
    fn the_bank_table_has_unique_six_digit_bins() {
        let mut bins: Vec<&str> = BANKS.iter().map(|b| b.bin).collect();
        assert!(bins.iter().all(|b| b.len() == 6 && all_digits(b)));
        bins.sort_unstable();
        bins.dedup();
        assert_eq!(bins.len(), BANKS.len());
        for (short, bin) in [
            ("Vietcombank", "970436"),
            ("VietinBank", "970415"),
            ("BIDV", "970418"),
            ("Agribank", "970405"),
            ("MB", "970422"),
        ] {
            assert_eq!(bank_by_bin(bin).map(|b| b.short_name), Some(short));
        }
    }
}
