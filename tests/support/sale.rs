//! Flash-sale fixtures shared by the store tests.

use std::time::Duration;

use chophien::redis_link::RedisTarget;
use chophien::sale::{
    BuyRequest, Checkout, GroupCommit, NewSale, PaymentMethod, RedisSaleStore, RedisStoreOptions,
    Shipping,
};

use super::redis::RedisServer;

/// A live sale of tea: `stock` units, at most `per_buyer_limit` per buyer,
/// starting at once, five minutes long, one-minute holds.
pub fn tea(stock: u32, per_buyer_limit: u32) -> NewSale {
    NewSale {
        product_id: "p1".into(),
        product_name: "Trà Thái Nguyên 500g".into(),
        // Plenty: these tests are about the sale, not the product's stock.
        product_stock: 1_000_000,
        price_vnd: 199_000,
        stock,
        per_buyer_limit,
        starts_in_secs: 0,
        duration_secs: 300,
        hold_secs: 60,
    }
}

/// `buyer` (named "Người mua <buyer>") buys `quantity` with idempotency key `key`.
pub fn request(sale_id: &str, buyer: &str, quantity: u32, key: &str) -> BuyRequest {
    BuyRequest {
        sale_id: sale_id.into(),
        buyer_id: buyer.into(),
        buyer_name: format!("Người mua {buyer}"),
        quantity,
        idempotency_key: key.into(),
    }
}

/// A cash-on-delivery checkout to `shipping`, without a voucher.
pub fn cod(shipping: Shipping) -> Checkout {
    Checkout {
        shipping,
        payment: PaymentMethod::Cod,
        voucher_code: None,
    }
}

/// Valid shipping details (the phone in international form).
pub fn shipping() -> Shipping {
    Shipping {
        name: "Nguyễn Thị Lan".into(),
        phone: "+84912345678".into(),
        address: "12 Hàng Bạc, Hà Nội".into(),
    }
}

/// Runs each listed behaviour — a generic `async fn(S)` over
/// `S: SaleStore` in the calling file — once for `MemorySaleStore`, for
/// `RedisSaleStore` on its own real `redis-server` (with and without group
/// commit), and for `RedisSaleStore` on a real three-primary Redis Cluster
/// (shared by the binary's tests, one at a time, emptied for each).
#[macro_export]
macro_rules! chophien_sale_suite {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    super::$behaviour(chophien::sale::MemorySaleStore::new()).await;
                }
            )*
        }
        /// Redis with group commit (the default).
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let server = $crate::support::redis::RedisServer::start();
                    super::$behaviour($crate::support::sale::redis_store(&server, true).await).await;
                }
            )*
        }
        /// Redis with one call per buy.
        mod redis_one_by_one {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let server = $crate::support::redis::RedisServer::start();
                    super::$behaviour($crate::support::sale::redis_store(&server, false).await).await;
                }
            )*
        }
        /// A Redis Cluster, with group commit.
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    let cluster = $crate::support::redis_cluster::take_turn().await;
                    super::$behaviour($crate::support::sale::store_on(cluster.target(), true).await).await;
                }
            )*
        }
    };
}

/// A Redis store whose deadline is a generous hang guard, not a claim.
pub async fn redis_store(server: &RedisServer, group_commit: bool) -> RedisSaleStore {
    store_on(server.url().into(), group_commit).await
}

pub async fn store_on(target: RedisTarget, group_commit: bool) -> RedisSaleStore {
    let options = RedisStoreOptions {
        op_timeout: Duration::from_secs(10),
        group_commit: group_commit.then(GroupCommit::default),
        ..RedisStoreOptions::new(target)
    };
    RedisSaleStore::connect(options).await.unwrap()
}
