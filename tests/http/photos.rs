//! Product photos over HTTP (issue 14, part 4): a seller's upload is
//! checked, re-encoded to JPEG and thumbnailed, and served only as an
//! image; a huge body, a non-image renamed `.jpg`, an SVG with script and
//! a decompression bomb are each refused with a typed error.

use crate::support;

use std::io::Cursor;

use chophien::auth::Role;
use chophien::config::{Config, StoreKind};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::Value;

use support::server::{test_config, Store, TestServer};

/// A photo-like picture (a gradient, so the encoders have work to do).
fn picture(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    }))
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A real PNG of 20,000 × 20,000 pixels of one colour (400 megapixels,
/// 1.2 GB as RGB once decoded), compressed to a few dozen KB.
fn decompression_bomb() -> Vec<u8> {
    const SIDE: u32 = 20_000;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, SIDE, SIDE);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; (SIDE as usize).div_ceil(8)];
    for _ in 0..SIDE {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
    writer.finish().unwrap();
    out
}

struct Upload {
    status: StatusCode,
    body: Value,
}

async fn upload(
    server: &TestServer,
    room: &str,
    token: Option<&str>,
    content_type: &str,
    bytes: Vec<u8>,
) -> Upload {
    let mut request = reqwest::Client::new()
        .post(server.http(&format!("/api/rooms/{room}/photos")))
        .header("content-type", content_type)
        .body(bytes);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("upload");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    Upload { status, body }
}

fn code(upload: &Upload) -> &str {
    upload.body["error"]["code"].as_str().unwrap_or("")
}

async fn seller_upload(server: &TestServer, content_type: &str, bytes: Vec<u8>) -> Upload {
    let token = server.token("r1", Role::Seller, "hoa");
    upload(server, "r1", Some(&token), content_type, bytes).await
}

async fn started() -> TestServer {
    let server = TestServer::start().await;
    server.room("r1").await;
    server
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    reqwest::get(server.http(path)).await.expect("get")
}

#[tokio::test]
async fn a_jpeg_is_stored_and_served_as_our_jpeg_with_image_only_headers() {
    let server = started().await;
    let photo = encoded(&picture(1600, 1200), ImageFormat::Jpeg);
    let up = seller_upload(&server, "image/jpeg", photo).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    let id = up.body["id"].as_str().unwrap();
    assert_eq!(up.body["url"], format!("/photos/{id}.jpg"));
    assert_eq!(up.body["thumb_url"], format!("/photos/{id}-thumb.jpg"));
    assert_eq!(
        (up.body["width"].as_u64(), up.body["height"].as_u64()),
        (Some(1280), Some(960))
    );

    let response = get(&server, up.body["url"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.split(';').any(|d| d.trim() == "default-src 'none'"),
        "{policy}"
    );
    let cache = headers["cache-control"].to_str().unwrap();
    assert!(
        cache.contains("immutable") && cache.contains("max-age="),
        "{cache}"
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
    let served = image::load_from_memory(&bytes).unwrap();
    assert_eq!((served.width(), served.height()), (1280, 960));
}

#[tokio::test]
async fn a_png_becomes_a_jpeg_with_a_thumbnail_no_side_over_320() {
    let server = started().await;
    let photo = encoded(&picture(500, 900), ImageFormat::Png);
    let up = seller_upload(&server, "image/png", photo).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);

    let response = get(&server, up.body["thumb_url"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
    let thumb = image::load_from_memory(&bytes).unwrap();
    assert!(thumb.width() <= 320 && thumb.height() <= 320);
    assert_eq!(thumb.height(), 320, "the longest side fills the thumbnail");
}

#[tokio::test]
async fn uploading_the_same_photo_twice_gives_the_same_id() {
    let server = started().await;
    let photo = encoded(&picture(300, 200), ImageFormat::WebP);
    let first = seller_upload(&server, "image/webp", photo.clone()).await;
    let second = seller_upload(&server, "image/webp", photo).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body, second.body);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let server = started().await;
    let huge = vec![0xFFu8; Config::defaults().photos.max_bytes + 1];
    let up = seller_upload(&server, "image/jpeg", huge).await;
    assert_eq!(up.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(code(&up), "photo_too_large");
}

#[tokio::test]
async fn a_text_file_renamed_jpg_and_sent_as_image_jpeg_is_refused() {
    let server = started().await;
    let text = b"Danh sach khach hang, khong phai anh.\n".repeat(50);
    let up = seller_upload(&server, "image/jpeg", text).await;
    assert_eq!(up.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(code(&up), "unsupported_image");
}

#[tokio::test]
async fn an_svg_with_a_script_is_refused_whatever_type_it_claims() {
    let server = started().await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script></svg>"#;
    for content_type in ["image/svg+xml", "image/jpeg", "image/png"] {
        let up = seller_upload(&server, content_type, svg.to_vec()).await;
        assert_eq!(
            up.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
        assert_eq!(code(&up), "unsupported_image", "{content_type}");
    }
}

#[tokio::test]
async fn a_real_image_declared_as_another_type_is_refused() {
    let server = started().await;
    let photo = encoded(&picture(50, 50), ImageFormat::Jpeg);
    let up = seller_upload(&server, "text/html", photo).await;
    assert_eq!(up.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(code(&up), "unsupported_image");
}

#[tokio::test]
async fn a_decompression_bomb_png_is_refused_from_its_header() {
    let server = started().await;
    let bomb = decompression_bomb();
    assert!(
        bomb.len() < 2 * 1024 * 1024,
        "the bomb is small: {} bytes",
        bomb.len()
    );
    let up = seller_upload(&server, "image/png", bomb).await;
    assert_eq!(up.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", up.body);
    assert_eq!(code(&up), "image_too_large");
}

#[tokio::test]
async fn a_damaged_jpeg_is_refused_as_invalid() {
    let server = started().await;
    let photo = encoded(&picture(400, 300), ImageFormat::Jpeg);
    let up = seller_upload(&server, "image/jpeg", photo[..200].to_vec()).await;
    assert_eq!(up.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", up.body);
    assert_eq!(code(&up), "invalid_image");
}

#[tokio::test]
async fn only_names_of_stored_photos_are_served_and_traversal_gets_404() {
    let server = started().await;
    for path in [
        "/photos/..%2F..%2FCargo.toml",
        "/photos/%2e%2e%2fconfig%2fdefault.toml",
        "/photos/..%5C..%5CCargo.toml",
        "/photos/0123456789abcdef0123456789abcdef.jpg",
        "/photos/0123456789abcdef0123456789abcdef.png",
        "/photos/rooms",
    ] {
        let response = get(&server, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "photo_not_found", "{path}");
    }
}

#[tokio::test]
async fn a_viewer_may_not_upload_and_no_token_is_unauthorized() {
    let server = started().await;
    let photo = encoded(&picture(50, 50), ImageFormat::Jpeg);
    let viewer = server.token("r1", Role::Viewer, "lan");
    let up = upload(&server, "r1", Some(&viewer), "image/jpeg", photo.clone()).await;
    assert_eq!(up.status, StatusCode::FORBIDDEN);
    assert_eq!(code(&up), "forbidden");
    let up = upload(&server, "r1", None, "image/jpeg", photo.clone()).await;
    assert_eq!(up.status, StatusCode::UNAUTHORIZED);
    let other = server.token("r2", Role::Seller, "mai");
    let up = upload(&server, "r2", Some(&other), "image/jpeg", photo).await;
    assert_eq!(up.status, StatusCode::NOT_FOUND, "a room nobody opened");
    assert_eq!(code(&up), "room_not_found");
}

#[tokio::test]
async fn a_room_past_its_quota_is_refused_but_may_upload_its_photos_again() {
    let mut config = test_config();
    config.photos.per_room = 2;
    let server = TestServer::with_config(config).await;
    server.room("r1").await;
    let photos: Vec<Vec<u8>> = (1..=3)
        .map(|n| encoded(&picture(40 * n, 40), ImageFormat::Png))
        .collect();
    for photo in &photos[..2] {
        let up = seller_upload(&server, "image/png", photo.clone()).await;
        assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    }
    let third = seller_upload(&server, "image/png", photos[2].clone()).await;
    assert_eq!(third.status, StatusCode::CONFLICT);
    assert_eq!(code(&third), "photo_quota_reached");
    let again = seller_upload(&server, "image/png", photos[0].clone()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_uploaded_on_one_node_is_served_by_another_sharing_the_photos_directory() {
    let shared = tempfile::tempdir().unwrap();
    let mut config = test_config();
    config.photos.dir = shared.path().to_path_buf();
    let first = Store::Redis.with_config(config.clone()).await;
    first.room("r1").await;
    let mut other = config;
    other.store.kind = StoreKind::Redis;
    other.store.redis_url = first.redis.as_ref().unwrap().url();
    let second = TestServer::with_config(other).await;

    let photo = encoded(&picture(200, 100), ImageFormat::Png);
    let up = seller_upload(&second, "image/png", photo).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.body);
    let response = get(&first, up.body["thumb_url"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    second.shutdown().await;
    first.shutdown().await;
}
