//! The demo room a newcomer opens first: "Trà Thái Nguyên", a tea
//! cooperative's live sale with real-looking products and VND prices.

use std::time::Duration;

use crate::auth::{AuthError, Claims, Role, TokenKeys};
use crate::protocol::{Product, RoomInfo};
use crate::room::{NewRoom, RoomError, RoomRegistry};

pub const ROOM_ID: &str = "tra-thai-nguyen";
pub const SELLER_ID: &str = "seller-chi-hoa";
pub const SELLER_NAME: &str = "Chị Hoa";

fn product(
    id: &str,
    name: &str,
    description: &str,
    price_vnd: u64,
    stock: u32,
    image: &str,
) -> Product {
    Product {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        price_vnd,
        stock,
        image_url: Some(format!("/img/{image}.svg")),
        per_buyer_limit: None,
    }
}

/// The demo catalog.
pub fn products() -> Vec<Product> {
    vec![
        product(
            "p1",
            "Chè Tân Cương đặc biệt 500g",
            "Búp non hái tay, sao chảo gang, nước xanh vàng, hậu ngọt.",
            250_000,
            120,
            "che-tan-cuong",
        ),
        product(
            "p2",
            "Trà móc câu Tân Cương 200g",
            "Cánh nhỏ xoăn như móc câu, hộp giấy kraft làm quà.",
            180_000,
            200,
            "tra-moc-cau",
        ),
        product(
            "p3",
            "Bún khô Định Hóa 1kg",
            "Gạo bao thai Định Hóa, phơi nắng tự nhiên, không chất tẩy trắng.",
            45_000,
            300,
            "bun-dinh-hoa",
        ),
        product(
            "p4",
            "Gạo Bao Thai Định Hóa 5kg",
            "Gạo đặc sản vùng ATK, cơm mềm, thơm.",
            150_000,
            80,
            "gao-bao-thai",
        ),
        product(
            "p5",
            "Bánh chưng Bờ Đậu (cặp)",
            "Bánh chưng đen Bờ Đậu, gói lá dong, luộc củi 10 tiếng.",
            120_000,
            50,
            "banh-chung-bo-dau",
        ),
        // Scarce and dear: at most two jars per buyer from the bag.
        Product {
            per_buyer_limit: Some(2),
            ..product(
                "p6",
                "Mật ong rừng Võ Nhai 500ml",
                "Mật ong hoa rừng, khai thác tự nhiên.",
                1_250_000,
                15,
                "mat-ong-vo-nhai",
            )
        },
    ]
}

/// Open the demo room, or find it open already (a Redis store keeps it
/// across restarts, and every node of a deployment opens it).
pub async fn create(rooms: &RoomRegistry) -> Result<RoomInfo, RoomError> {
    let opened = rooms
        .create(NewRoom {
            id: Some(ROOM_ID.into()),
            title: "Trà Thái Nguyên — phiên chợ chè Tân Cương".into(),
            seller_name: format!("{SELLER_NAME} — HTX Chè Tân Cương"),
            products: products(),
            starts_at: None,
            cover_url: None,
        })
        .await;
    match opened {
        Err(RoomError::AlreadyExists) => rooms.info(ROOM_ID).await,
        other => other,
    }
}

/// A seller token for the demo room, printed at start so the newcomer can
/// open the seller studio.
pub fn seller_token(keys: &TokenKeys, ttl: Duration) -> Result<String, AuthError> {
    keys.sign(&Claims::new(
        SELLER_ID,
        SELLER_NAME,
        ROOM_ID,
        Role::Seller,
        ttl,
    ))
}

/// The demo trainer's identity and name (a teacher of the provincial
/// e-commerce programme).
pub const TRAINER_ID: &str = "trainer-demo";
pub const TRAINER_NAME: &str = "Cô Hoa (giảng viên)";

/// A trainer token for every room, printed at start so the newcomer can
/// open the trainer page and run a practice class.
pub fn trainer_token(keys: &TokenKeys, ttl: Duration) -> Result<String, AuthError> {
    keys.sign(&Claims::new(
        TRAINER_ID,
        TRAINER_NAME,
        crate::auth::ANY_ROOM,
        Role::Trainer,
        ttl,
    ))
}
