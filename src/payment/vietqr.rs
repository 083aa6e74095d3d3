//! The VietQR code of a bank transfer: its payload, and the payload drawn
//! as a QR code (SVG for the browser, PNG for anything else).
//!
//! VietQR is NAPAS' profile of the EMVCo *merchant-presented mode* QR code:
//! a string of TLV fields, each an ID of 2 digits, a length of 2 decimal
//! digits (characters, all ASCII here) and the value. [`payload`] writes,
//! in this order:
//!
//! | ID | name | value here |
//! |---|---|---|
//! | `00` | payload format indicator | `01` |
//! | `01` | point of initiation | `12`: dynamic, the code carries an amount (one code per order) |
//! | `38` | merchant account information (NAPAS) | sub-fields `00` GUID `A000000727`; `01` beneficiary organisation, itself `00` the bank's BIN and `01` the account number; `02` service code `QRIBFTTA` (transfer to an account) |
//! | `53` | currency | `704` (VND, ISO 4217) |
//! | `54` | amount | whole đồng, digits only, no decimals (1 to 13 digits) |
//! | `58` | country | `VN` |
//! | `62` | additional data | sub-field `08` purpose of transaction: the note, when not empty |
//! | `63` | CRC | CRC-16/CCITT-FALSE (poly `0x1021`, init `0xFFFF`, no reflection, no final XOR) of everything before it *including* the characters `6304`, as 4 uppercase hex digits |
//!
//! The note is what the buyer's bank shows the seller beside the transfer,
//! so she can match it to the order: [`note`] folds it to ASCII (no
//! diacritics, `đ` as `d`), keeps letters, digits and single spaces, and
//! cuts it at 25 characters.
//!
//! A worked example: 398,000 đồng to Vietcombank (`970436`) account
//! `0011001234567`, note `CP 9F2C41D07A3B5E68`:
//!
//! ```text
//! 00 02 01
//! 01 02 12
//! 38 57 00 10 A000000727
//!       01 27 00 06 970436
//!             01 13 0011001234567
//!       02 08 QRIBFTTA
//! 53 03 704
//! 54 06 398000
//! 58 02 VN
//! 62 23 08 19 CP 9F2C41D07A3B5E68
//! 63 04 9A35
//! ```
//!
//! which is, without the spaces of the layout (the note keeps its own),
//! `000201010212385700` `10A000000727012700069704360113001100123456702` `08QRIBFTTA5303704`
//! `5406398000` `5802VN` `622308` `19CP 9F2C41D07A3B5E68` `63049A35` (checked by
//! `the_worked_example_of_the_module_doc_is_exact` below).
//!
//! The account name is not in the payload (VietQR has no field for it; the
//! buyer's bank looks it up and shows it); the service layer shows it
//! beside the code.

use std::fmt::Write as _;

use crc::{Crc, CRC_16_IBM_3740};
use image::{ImageEncoder, Luma};
use qrcode::{EcLevel, QrCode};

use super::{ascii_fold, BankAccount, PaymentError};

/// CRC-16/CCITT-FALSE, the one field `63` uses (`CRC_16_IBM_3740` is its
/// catalogue name: poly 0x1021, init 0xFFFF, no reflection, no final XOR).
const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// NAPAS' globally unique identifier in field `38`.
pub const NAPAS_GUID: &str = "A000000727";
/// Field `38.02`: a transfer to an account (`QRIBFTTC` would be to a card).
pub const SERVICE_TO_ACCOUNT: &str = "QRIBFTTA";
/// The longest note a code carries.
pub const MAX_NOTE_CHARS: usize = 25;
/// The largest amount field `54` holds (13 characters); an order total is
/// at most 10^12 đồng (`money::MAX_PRICE_VND` times 1,000 units).
pub const MAX_AMOUNT_VND: u64 = 9_999_999_999_999;
/// Pixels per QR module in the PNG, and user units per module in the SVG.
pub const MODULE_PIXELS: u32 = 8;

/// The VietQR payload paying `amount_vnd` đồng into `account`, with `note`
/// (normalised by [`note`]) as the purpose of the transfer. Refuses an
/// amount of 0 or above [`MAX_AMOUNT_VND`] (`amount_vnd`).
pub fn payload(account: &BankAccount, amount_vnd: u64, note: &str) -> Result<String, PaymentError> {
    if !(1..=MAX_AMOUNT_VND).contains(&amount_vnd) {
        return Err(PaymentError::InvalidValue {
            field: "amount_vnd",
            reason: format!("must be between 1 and {MAX_AMOUNT_VND} đồng"),
        });
    }
    let mut beneficiary = String::new();
    tlv(&mut beneficiary, "00", account.bin());
    tlv(&mut beneficiary, "01", account.account_number());
    let mut merchant = String::new();
    tlv(&mut merchant, "00", NAPAS_GUID);
    tlv(&mut merchant, "01", &beneficiary);
    tlv(&mut merchant, "02", SERVICE_TO_ACCOUNT);

    let mut out = String::with_capacity(160);
    tlv(&mut out, "00", "01");
    tlv(&mut out, "01", "12");
    tlv(&mut out, "38", &merchant);
    tlv(&mut out, "53", "704");
    tlv(&mut out, "54", &amount_vnd.to_string());
    tlv(&mut out, "58", "VN");
    let note = self::note(note);
    if !note.is_empty() {
        let mut additional = String::new();
        tlv(&mut additional, "08", &note);
        tlv(&mut out, "62", &additional);
    }
    out.push_str("6304");
    let crc = CRC16.checksum(out.as_bytes());
    // Writing to a String cannot fail.
    let _ = write!(out, "{crc:04X}");
    Ok(out)
}

/// One field: ID, length as 2 decimal digits, value. Every value written
/// here is short by construction (the longest, field `38`, is at most 63
/// characters), well inside the 99 two digits can say.
fn tlv(out: &mut String, id: &str, value: &str) {
    debug_assert!(value.len() <= 99 && value.is_ascii(), "{id}: {value}");
    let _ = write!(out, "{id}{:02}{value}", value.len());
}

/// A transfer note as banks accept it: ASCII letters, digits and single
/// spaces (diacritics dropped, `đ` as `d`, anything else left out), at
/// most [`MAX_NOTE_CHARS`] characters. `Thanh toán đơn ABC` →
/// `Thanh toan don ABC`.
pub fn note(text: &str) -> String {
    let kept: String = ascii_fold(text)
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .collect();
    let mut note = kept.split_whitespace().collect::<Vec<_>>().join(" ");
    note.truncate(MAX_NOTE_CHARS);
    note.trim_end().to_owned()
}

/// The QR code of `payload`: error correction level M (15%), which keeps a
/// VietQR payload (about 100–150 characters) at version 6 or 7.
fn code(payload: &str) -> Result<QrCode, PaymentError> {
    QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| PaymentError::Internal(format!("could not draw the QR code: {e}")))
}

/// `payload` as an SVG document: black modules on white,
/// [`MODULE_PIXELS`] units a module, with the standard quiet zone of 4
/// modules; it scales to any size (`shape-rendering="crispEdges"`).
pub fn svg(payload: &str) -> Result<String, PaymentError> {
    Ok(code(payload)?
        .render::<qrcode::render::svg::Color>()
        .quiet_zone(true)
        .module_dimensions(MODULE_PIXELS, MODULE_PIXELS)
        .build())
}

/// `payload` as a grayscale PNG: [`MODULE_PIXELS`] pixels a module, with
/// the standard quiet zone of 4 modules (about 420 pixels square for a
/// VietQR payload).
pub fn png(payload: &str) -> Result<Vec<u8>, PaymentError> {
    let image = code(payload)?
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(MODULE_PIXELS, MODULE_PIXELS)
        .build();
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|e| PaymentError::Internal(format!("could not encode the PNG: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> BankAccount {
        BankAccount::new("970436", "0011001234567", "Nguyễn Thị Lan").unwrap()
    }

    /// Splits a TLV string into (id, value) pairs, checking each length.
    fn fields(mut text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while !text.is_empty() {
            let id = &text[..2];
            let len: usize = text[2..4].parse().unwrap();
            out.push((id.to_owned(), text[4..4 + len].to_owned()));
            text = &text[4 + len..];
        }
        out
    }

    #[test]
    fn the_crc_is_ccitt_false() {
        assert_eq!(CRC16.checksum(b"123456789"), 0x29B1);
    }

    #[test]
    fn fields_come_in_order_with_two_digit_lengths() {
        let payload = payload(&account(), 398_000, "CP 9F2C41D07A3B5E68").unwrap();
        let fields = fields(&payload);
        let ids: Vec<&str> = fields.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["00", "01", "38", "53", "54", "58", "62", "63"]);
        assert_eq!(fields[0].1, "01");
        assert_eq!(fields[1].1, "12");
        let merchant = super::tests::fields(&fields[2].1);
        assert_eq!(merchant[0], ("00".into(), NAPAS_GUID.into()));
        assert_eq!(
            super::tests::fields(&merchant[1].1),
            [
                ("00".to_owned(), "970436".to_owned()),
                ("01".to_owned(), "0011001234567".to_owned())
            ]
        );
        assert_eq!(merchant[2], ("02".into(), SERVICE_TO_ACCOUNT.into()));
        assert_eq!(fields[3].1, "704");
        assert_eq!(fields[4].1, "398000");
        assert_eq!(fields[5].1, "VN");
        assert_eq!(
            super::tests::fields(&fields[6].1),
            [("08".to_owned(), "CP 9F2C41D07A3B5E68".to_owned())]
        );
        let crc = &fields[7].1;
        let covered = &payload[..payload.len() - 4];
        assert!(covered.ends_with("6304"));
        assert_eq!(*crc, format!("{:04X}", CRC16.checksum(covered.as_bytes())));
    }

    #[test]
    fn the_worked_example_of_the_module_doc_is_exact() {
        let payload = payload(&account(), 398_000, "CP 9F2C41D07A3B5E68").unwrap();
        assert_eq!(
            payload,
            concat!(
                "000201010212385700",
                "10A000000727012700069704360113001100123456702",
                "08QRIBFTTA5303704",
                "5406398000",
                "5802VN",
                "622308",
                "19CP 9F2C41D07A3B5E68",
                "63049A35"
            )
        );
    }

    /// The reference payload of another VietQR implementation (the README
    /// of the `subiz/vietqr` library), byte for byte.
    #[test]
    fn a_published_payload_is_matched_byte_for_byte() {
        let account = BankAccount::new("970415", "0011001932418", "X").unwrap();
        assert_eq!(
            payload(&account, 120_000, "ủng hộ lũ lụt").unwrap(),
            concat!(
                "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA",
                "530370454061200005802VN62170813ung ho lu lut6304C15C"
            )
        );
    }

    #[test]
    fn the_note_is_folded_to_ascii_and_cut_at_25() {
        assert_eq!(note("Thanh toán đơn ABC"), "Thanh toan don ABC");
        assert_eq!(note("ĐẶT HÀNG #12, giá 50.000đ!"), "DAT HANG 12 gia 50000d");
        assert_eq!(note("  a \t\n b  "), "a b");
        assert_eq!(
            note("CP 0123456789abcdef0123456789"),
            "CP 0123456789abcdef012345"
        );
        assert_eq!(
            note("Mua 12345678901234567890 x"),
            "Mua 12345678901234567890"
        );
        assert_eq!(note("!!!"), "");
    }

    #[test]
    fn an_empty_note_leaves_out_field_62() {
        let payload = payload(&account(), 1, "…").unwrap();
        let ids: Vec<String> = fields(&payload).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["00", "01", "38", "53", "54", "58", "63"]);
    }

    #[test]
    fn an_amount_is_one_to_thirteen_digits() {
        for bad in [0, MAX_AMOUNT_VND + 1, u64::MAX] {
            assert!(matches!(
                payload(&account(), bad, "x"),
                Err(PaymentError::InvalidValue {
                    field: "amount_vnd",
                    ..
                })
            ));
        }
        let largest = payload(&account(), MAX_AMOUNT_VND, "x").unwrap();
        assert!(largest.contains("54139999999999999"));
    }

    #[test]
    fn the_code_renders_as_svg_and_png() {
        let payload = payload(&account(), 398_000, "CP 1").unwrap();
        let svg = svg(&payload).unwrap();
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"));
        let png = png(&payload).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!(decoded.width(), decoded.height());
        // At least 21 modules plus two quiet zones of 4.
        assert!(decoded.width() >= (21 + 8) * MODULE_PIXELS);
        assert_eq!(decoded.width() % MODULE_PIXELS, 0);
    }
}
