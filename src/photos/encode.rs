//! The checks an uploaded photo passes and the JPEGs made from it.
//!
//! [`prepare`] is the only way bytes from a seller become something the
//! server stores: the real format is sniffed from the bytes (never the name
//! or the `Content-Type`), only JPEG, PNG and WebP are decoded, and decoding
//! runs under [`image::Limits`] checked against the header's dimensions
//! *before* any pixel buffer is allocated, so a few-KB PNG that claims
//! 20,000×20,000 pixels (a decompression bomb) costs nothing. What comes out
//! is always our own JPEG encoding (metadata dropped, EXIF orientation
//! applied), so what we serve is never the uploaded file.
//!
//! Pure and synchronous (CPU work): the service layer runs it on a
//! blocking thread.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use sha2::{Digest, Sha256};

use super::PhotoError;

/// The longest side of the display image (a product card on a desktop
/// screen, the pinned bubble on a phone held sideways).
pub const DISPLAY_SIDE: u32 = 1280;
/// The longest side of the thumbnail (product strips, cards on phones).
pub const THUMB_SIDE: u32 = 320;
/// The widest or tallest image decoded at all: a 200-megapixel phone
/// photo is 16,320 px wide; nothing a seller shows needs more.
pub const MAX_SIDE: u32 = 16_384;
/// The most memory one decode may hold, the decoded pixels included: a
/// 48-megapixel RGB photo is 144 MiB. Two decodes run at once at most
/// (`Photos`), so this bounds the upload path's memory.
pub const MAX_DECODE_BYTES: u64 = 160 * 1024 * 1024;
/// JPEG quality of the display image and the thumbnail.
const DISPLAY_QUALITY: u8 = 85;
const THUMB_QUALITY: u8 = 80;
/// Hex digits of the content hash in an id: 128 bits, no collision in
/// any shop's lifetime, short enough for a URL.
pub const ID_HEX_LEN: usize = 32;

/// A photo ready to store: our two JPEGs and the id they are stored by.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Hex hash of `display`: the same picture uploaded twice gets the same
    /// id (and the same files), so re-uploading is idempotent.
    pub id: String,
    /// The display JPEG, longest side at most [`DISPLAY_SIDE`].
    pub display: Vec<u8>,
    /// The thumbnail JPEG, longest side at most [`THUMB_SIDE`].
    pub thumb: Vec<u8>,
    /// The display image's size, which the client lays out before it loads.
    pub width: u32,
    pub height: u32,
}

/// The formats accepted, by MIME type, as a client declares them.
pub fn accepted_content_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(essence.as_str(), "image/jpeg" | "image/png" | "image/webp")
}

/// Check `bytes`, decode them within the limits and make our JPEGs.
pub fn prepare(bytes: &[u8]) -> Result<Prepared, PhotoError> {
    let decoded = decode(bytes)?;
    let display = fit(decoded, DISPLAY_SIDE);
    let thumb = fit(display.clone(), THUMB_SIDE);
    let (width, height) = (display.width(), display.height());
    let display = jpeg(&flatten(display), DISPLAY_QUALITY)?;
    let thumb = jpeg(&flatten(thumb), THUMB_QUALITY)?;
    let id = hex::encode(Sha256::digest(&display))[..ID_HEX_LEN].to_owned();
    Ok(Prepared {
        id,
        display,
        thumb,
        width,
        height,
    })
}

/// Whether `name` is one a stored photo can have: `<id>.jpg` or
/// `<id>-thumb.jpg`, the id exactly [`ID_HEX_LEN`] lower-case hex digits.
/// Nothing else (no `..`, no slash, no other character) ever reaches the
/// file system.
pub fn is_photo_file_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".jpg") else {
        return false;
    };
    let id = stem.strip_suffix("-thumb").unwrap_or(stem);
    is_photo_id(id)
}

/// Whether `id` is one [`prepare`] can produce.
pub fn is_photo_id(id: &str) -> bool {
    id.len() == ID_HEX_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn decode(bytes: &[u8]) -> Result<DynamicImage, PhotoError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| PhotoError::Unsupported)?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        _ => return Err(PhotoError::Unsupported),
    }
    let mut reader = reader;
    reader.limits(limits());
    // Reading the header checks the strict width and height limits.
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(PhotoError::TooManyPixels);
    }
    // The decoded pixels must fit too, before they are allocated (some
    // decoders treat `max_alloc` as advice only).
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(PhotoError::TooManyPixels);
    }
    // Orientation is metadata: a photo whose EXIF is unreadable is shown
    // as stored rather than refused.
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(image)
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// A decoder's error as ours: over a limit is "too large", anything else
/// (truncated, corrupt, a variant of the format the codec lacks) "invalid":
/// the format itself was sniffed and accepted already.
fn refusal(error: image::ImageError) -> PhotoError {
    match error {
        image::ImageError::Limits(_) => PhotoError::TooManyPixels,
        _ => PhotoError::Invalid,
    }
}

/// `image` scaled down (never up) so its longest side is at most `side`.
fn fit(image: DynamicImage, side: u32) -> DynamicImage {
    if image.width() <= side && image.height() <= side {
        return image;
    }
    image.resize(side, side, FilterType::Triangle)
}

/// RGB pixels, transparent parts laid on white (JPEG has no alpha; a cut-out
/// product on white is what a seller expects).
fn flatten(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| -> u8 {
            let (c, a) = (u32::from(c), u32::from(a));
            // (c·a + 255·(255−a)) / 255, rounded; always ≤ 255.
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

fn jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .map_err(|e| PhotoError::Internal(format!("encoding a JPEG: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbaImage::from_pixel(width, height, Rgba([200, 40, 40, 255]));
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(
                image.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgba8,
            )
            .unwrap();
        out
    }

    /// A valid PNG header that claims `width`×`height` pixels, with a tiny
    /// (wrong) body: what a decompression bomb looks like to a header check.
    fn bomb(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = png(1, 1);
        // IHDR's width and height sit right after the 8-byte signature, the
        // 4-byte length and the 4-byte type; its CRC follows the 13 data bytes.
        bytes[16..20].copy_from_slice(&width.to_be_bytes());
        bytes[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn a_png_becomes_a_jpeg_display_image_and_thumbnail_within_their_sides() {
        let prepared = prepare(&png(2000, 1000)).unwrap();
        assert_eq!((prepared.width, prepared.height), (1280, 640));
        assert_eq!(&prepared.display[..3], &[0xFF, 0xD8, 0xFF]);
        let thumb = image::load_from_memory(&prepared.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
    }

    #[test]
    fn a_small_image_is_not_enlarged() {
        let prepared = prepare(&png(100, 50)).unwrap();
        assert_eq!((prepared.width, prepared.height), (100, 50));
    }

    #[test]
    fn the_same_picture_gets_the_same_id() {
        let a = prepare(&png(64, 64)).unwrap();
        let b = prepare(&png(64, 64)).unwrap();
        assert_eq!(a.id, b.id);
        assert!(is_photo_id(&a.id));
    }

    #[test]
    fn svg_html_and_text_are_unsupported_whatever_they_are_called() {
        for bytes in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"[..],
            b"<!doctype html><script>alert(1)</script>",
            b"just some text renamed photo.jpg",
            b"",
        ] {
            assert!(matches!(prepare(bytes), Err(PhotoError::Unsupported)));
        }
    }

    #[test]
    fn a_header_claiming_twenty_thousand_pixels_a_side_is_refused_before_decoding() {
        assert!(matches!(
            prepare(&bomb(20_000, 20_000)),
            Err(PhotoError::TooManyPixels)
        ));
    }

    #[test]
    fn an_image_within_each_side_but_too_big_to_hold_is_refused() {
        // 16,000 × 16,000 RGBA is 1 GB of pixels.
        assert!(matches!(
            prepare(&bomb(16_000, 16_000)),
            Err(PhotoError::TooManyPixels)
        ));
    }

    #[test]
    fn a_truncated_png_is_invalid() {
        let bytes = png(64, 64);
        assert!(matches!(
            prepare(&bytes[..bytes.len() / 2]),
            Err(PhotoError::Invalid)
        ));
    }

    /// A 40×20 JPEG whose EXIF says "rotate 90° clockwise to show"
    /// (orientation 6), as phones store portrait photos.
    fn jpeg_turned_by_exif() -> Vec<u8> {
        let image =
            DynamicImage::ImageRgb8(RgbImage::from_pixel(40, 20, image::Rgb([10, 120, 60])));
        let mut plain = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut plain), ImageFormat::Jpeg)
            .unwrap();
        // Little-endian TIFF header, one IFD with one entry: Orientation
        // (0x0112), SHORT, count 1, value 6; no next IFD.
        let tiff: [u8; 26] = [
            0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x01, 0x03, 0x00,
            0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let length = (2 + 6 + tiff.len()) as u16;
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&length.to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&tiff);
        let mut bytes = plain[..2].to_vec();
        bytes.extend_from_slice(&app1);
        bytes.extend_from_slice(&plain[2..]);
        bytes
    }

    #[test]
    fn a_photo_is_turned_as_its_exif_says_and_its_metadata_dropped() {
        let bytes = jpeg_turned_by_exif();
        assert!(bytes.windows(4).any(|w| w == b"Exif"));
        let prepared = prepare(&bytes).unwrap();
        assert_eq!((prepared.width, prepared.height), (20, 40));
        assert!(!prepared.display.windows(4).any(|w| w == b"Exif"));
        assert!(!prepared.thumb.windows(4).any(|w| w == b"Exif"));
    }

    #[test]
    fn transparent_pixels_are_laid_on_white() {
        let image = RgbaImage::from_pixel(4, 4, Rgba([0, 0, 0, 0]));
        let rgb = flatten(DynamicImage::ImageRgba8(image));
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    }

    #[test]
    fn only_names_of_our_ids_are_photo_file_names() {
        let id = "0123456789abcdef0123456789abcdef";
        assert!(is_photo_file_name(&format!("{id}.jpg")));
        assert!(is_photo_file_name(&format!("{id}-thumb.jpg")));
        for name in [
            "../etc/passwd",
            &format!("{id}.png"),
            &format!("{}.jpg", id.to_uppercase()),
            &format!("{id}x.jpg"),
            &format!("..{}.jpg", &id[2..]),
            &format!("{id}-thumb-thumb.jpg"),
            "",
            ".jpg",
        ] {
            assert!(!is_photo_file_name(name), "{name}");
        }
    }

    #[test]
    fn declared_types_other_than_jpeg_png_and_webp_are_not_accepted() {
        assert!(accepted_content_type("image/jpeg"));
        assert!(accepted_content_type("image/PNG; charset=x"));
        assert!(accepted_content_type("image/webp"));
        for other in ["image/svg+xml", "text/html", "image/gif", ""] {
            assert!(!accepted_content_type(other), "{other}");
        }
    }
}
