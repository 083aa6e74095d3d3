//! The `SaleStore` contract for vouchers, run against both stores like
//! `sale_conformance.rs`: what a voucher takes off an order, once per buyer
//! and per phone, never past its uses; a drop's claims are exactly its
//! number, however many tap at once; and a refused checkout uses nothing.

use crate::support;

use chophien::sale::{
    Checkout, Discount, NewVoucher, Order, OrderActor, OrderChange, PaymentMethod, SaleError,
    SaleStore, Shipping,
};

use support::sale::{request, shipping, tea};

const ROOM: &str = "tra-thai-nguyen";
const OTHER_ROOM: &str = "gom-bat-trang";
const T0: u64 = 1_700_000_000_000;
const HOUR: u64 = 3_600_000;

crate::chophien_sale_suite!(
    a_typed_voucher_takes_its_discount_off_the_order,
    a_buyer_uses_a_voucher_once_whatever_identity_she_uses,
    a_voucher_is_never_used_more_than_it_allows,
    a_voucher_outside_its_window_or_under_its_minimum_is_refused_and_used_nothing,
    a_drop_is_claimed_by_exactly_its_number_of_viewers,
    only_a_claimer_uses_a_dropped_voucher,
    a_voucher_belongs_to_its_room,
    cancelling_an_order_gives_its_voucher_back,
);

fn ten_percent(total_uses: u32) -> NewVoucher {
    NewVoucher {
        code: "tra10".into(),
        discount: Discount::Percent {
            percent: 10,
            max_vnd: 30_000,
        },
        min_order_vnd: 0,
        total_uses,
        starts_at: None,
        ends_at: T0 + HOUR,
        drop: false,
    }
}

fn to_phone(phone: &str) -> Shipping {
    Shipping {
        phone: phone.into(),
        ..shipping()
    }
}

/// `buyer` buys `quantity` (199.000 ₫ each) and checks out with `voucher`.
async fn checkout<S: SaleStore>(
    store: &S,
    sale_id: &str,
    buyer: &str,
    quantity: u32,
    phone: &str,
    voucher: Option<&str>,
) -> Result<Order, SaleError> {
    let key = format!("key-{buyer}-{}", uuid::Uuid::new_v4().simple());
    let hold = store
        .buy(ROOM, &request(sale_id, buyer, quantity, &key), T0)
        .await
        .unwrap()
        .hold
        .unwrap();
    store
        .confirm(
            ROOM,
            &hold.hold_id,
            buyer,
            &Checkout {
                shipping: to_phone(phone),
                payment: PaymentMethod::Cod,
                voucher_code: voucher.map(str::to_owned),
            },
            T0 + 1,
        )
        .await
        .map(|c| c.order)
}

async fn a_typed_voucher_takes_its_discount_off_the_order<S: SaleStore>(store: S) {
    let made = store
        .create_voucher(ROOM, ten_percent(5), T0)
        .await
        .unwrap();
    assert_eq!(made.code, "TRA10");
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let order = checkout(&store, &sale.id, "lan", 1, "0912345678", Some(" Tra10 "))
        .await
        .unwrap();
    assert_eq!(order.voucher_code.as_deref(), Some("TRA10"));
    assert_eq!(order.discount_vnd, 19_900);
    assert_eq!(order.total_vnd, 199_000 - 19_900);
    // 10 % of 597.000 is 59.700: the cap (30.000) applies.
    let capped = checkout(&store, &sale.id, "minh", 3, "0987654321", Some("TRA10"))
        .await
        .unwrap();
    assert_eq!((capped.discount_vnd, capped.total_vnd), (30_000, 567_000));
    let listed = store.vouchers(ROOM).await.unwrap();
    assert_eq!((listed.len(), listed[0].used), (1, 2));
    // Without a voucher nothing comes off.
    let plain = checkout(&store, &sale.id, "an", 1, "0911111111", None)
        .await
        .unwrap();
    assert_eq!(
        (plain.discount_vnd, plain.total_vnd, plain.voucher_code),
        (0, 199_000, None)
    );
}

async fn a_buyer_uses_a_voucher_once_whatever_identity_she_uses<S: SaleStore>(store: S) {
    store
        .create_voucher(ROOM, ten_percent(5), T0)
        .await
        .unwrap();
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    checkout(&store, &sale.id, "lan", 1, "0912345678", Some("TRA10"))
        .await
        .unwrap();
    assert_eq!(
        checkout(&store, &sale.id, "lan", 1, "0911111111", Some("TRA10")).await,
        Err(SaleError::VoucherAlreadyUsed),
        "the same identity"
    );
    assert_eq!(
        checkout(
            &store,
            &sale.id,
            "lan-laptop",
            1,
            "+84912345678",
            Some("TRA10")
        )
        .await,
        Err(SaleError::VoucherAlreadyUsed),
        "the same phone, another identity"
    );
    assert_eq!(store.vouchers(ROOM).await.unwrap()[0].used, 1);
}

async fn a_voucher_is_never_used_more_than_it_allows<S: SaleStore + Clone>(store: S) {
    store
        .create_voucher(ROOM, ten_percent(3), T0)
        .await
        .unwrap();
    let sale = store.create_sale(ROOM, tea(100, 5), T0).await.unwrap();
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..12u32 {
        let (store, sale_id) = (store.clone(), sale.id.clone());
        racers.spawn(async move {
            let phone = format!("09{:08}", i);
            checkout(&store, &sale_id, &format!("b{i}"), 1, &phone, Some("TRA10")).await
        });
    }
    let (mut used, mut used_up) = (0, 0);
    while let Some(result) = racers.join_next().await {
        match result.unwrap() {
            Ok(order) => {
                assert_eq!(order.discount_vnd, 19_900);
                used += 1;
            }
            Err(SaleError::VoucherUsedUp) => used_up += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((used, used_up), (3, 9));
    assert_eq!(store.vouchers(ROOM).await.unwrap()[0].used, 3);
}

async fn a_voucher_outside_its_window_or_under_its_minimum_is_refused_and_used_nothing<
    S: SaleStore,
>(
    store: S,
) {
    let later = NewVoucher {
        code: "LATER".into(),
        starts_at: Some(T0 + HOUR / 2),
        ..ten_percent(5)
    };
    store.create_voucher(ROOM, later, T0).await.unwrap();
    let big = NewVoucher {
        code: "BIG".into(),
        min_order_vnd: 500_000,
        ..ten_percent(5)
    };
    store.create_voucher(ROOM, big, T0).await.unwrap();
    let sale = store.create_sale(ROOM, tea(20, 10), T0).await.unwrap();
    assert_eq!(
        checkout(&store, &sale.id, "lan", 1, "0912345678", Some("LATER")).await,
        Err(SaleError::VoucherExpired)
    );
    assert_eq!(
        checkout(&store, &sale.id, "lan", 1, "0912345678", Some("BIG")).await,
        Err(SaleError::VoucherMinOrder {
            min_order_vnd: 500_000
        })
    );
    assert_eq!(
        checkout(&store, &sale.id, "lan", 1, "0912345678", Some("NOPE1")).await,
        Err(SaleError::VoucherNotFound)
    );
    assert_eq!(
        checkout(&store, &sale.id, "lan", 1, "0912345678", Some("<script>")).await,
        Err(SaleError::VoucherNotFound)
    );
    // Nothing was used, and no order was made.
    assert!(store
        .vouchers(ROOM)
        .await
        .unwrap()
        .iter()
        .all(|v| v.used == 0));
    assert!(store.orders_for_room(ROOM).await.unwrap().is_empty());
    // The same buyer may still check out (holds stay hers until they expire).
    checkout(&store, &sale.id, "lan", 3, "0912345678", Some("BIG"))
        .await
        .unwrap();
}

async fn a_drop_is_claimed_by_exactly_its_number_of_viewers<S: SaleStore + Clone>(store: S) {
    let drop = NewVoucher {
        code: "SAN5".into(),
        drop: true,
        ..ten_percent(5)
    };
    store.create_voucher(ROOM, drop, T0).await.unwrap();
    assert_eq!(
        store.claim_voucher(ROOM, "SAN5", "early", T0).await,
        Err(SaleError::VoucherNotDropped),
        "claims open when the seller drops it"
    );
    assert!(store.drop_voucher(ROOM, "san5", T0).await.unwrap().dropped);
    let mut racers = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = store.clone();
        racers.spawn(async move {
            store
                .claim_voucher(ROOM, "SAN5", &format!("v{i}"), T0 + 1)
                .await
        });
    }
    let (mut got, mut gone) = (0, 0);
    while let Some(result) = racers.join_next().await {
        match result.unwrap() {
            Ok(_) => got += 1,
            Err(SaleError::VoucherUsedUp) => gone += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((got, gone), (5, 35));
    assert_eq!(store.vouchers(ROOM).await.unwrap()[0].claimed, 5);
    // A typed voucher cannot be dropped.
    store
        .create_voucher(ROOM, ten_percent(5), T0)
        .await
        .unwrap();
    assert_eq!(
        store.drop_voucher(ROOM, "TRA10", T0).await,
        Err(SaleError::VoucherNotDropped)
    );
}

async fn only_a_claimer_uses_a_dropped_voucher<S: SaleStore>(store: S) {
    let drop = NewVoucher {
        code: "SAN1".into(),
        drop: true,
        ..ten_percent(1)
    };
    store.create_voucher(ROOM, drop, T0).await.unwrap();
    store.drop_voucher(ROOM, "SAN1", T0).await.unwrap();
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    assert_eq!(
        checkout(&store, &sale.id, "minh", 1, "0987654321", Some("SAN1")).await,
        Err(SaleError::VoucherNotClaimed)
    );
    store.claim_voucher(ROOM, "SAN1", "lan", T0).await.unwrap();
    assert_eq!(
        store
            .claim_voucher(ROOM, "SAN1", "lan", T0)
            .await
            .unwrap()
            .claimed,
        1,
        "claiming again changes nothing"
    );
    let order = checkout(&store, &sale.id, "lan", 1, "0912345678", Some("SAN1"))
        .await
        .unwrap();
    assert_eq!(order.discount_vnd, 19_900);
    assert_eq!(
        checkout(&store, &sale.id, "lan", 1, "0912345678", Some("SAN1")).await,
        Err(SaleError::VoucherAlreadyUsed)
    );
}

async fn a_voucher_belongs_to_its_room<S: SaleStore>(store: S) {
    store
        .create_voucher(ROOM, ten_percent(5), T0)
        .await
        .unwrap();
    assert_eq!(
        store.create_voucher(ROOM, ten_percent(5), T0).await,
        Err(SaleError::VoucherExists)
    );
    assert!(store.vouchers(OTHER_ROOM).await.unwrap().is_empty());
    store
        .create_voucher(OTHER_ROOM, ten_percent(5), T0)
        .await
        .unwrap();
    assert_eq!(
        store.drop_voucher(OTHER_ROOM, "NOPE1", T0).await,
        Err(SaleError::VoucherNotFound)
    );
    assert!(matches!(
        store
            .create_voucher(
                ROOM,
                NewVoucher {
                    code: "x".into(),
                    ..ten_percent(5)
                },
                T0
            )
            .await,
        Err(SaleError::InvalidValue(_))
    ));
}

async fn cancelling_an_order_gives_its_voucher_back<S: SaleStore>(store: S) {
    store
        .create_voucher(ROOM, ten_percent(1), T0)
        .await
        .unwrap();
    let drop = NewVoucher {
        code: "SAN1".into(),
        drop: true,
        ..ten_percent(1)
    };
    store.create_voucher(ROOM, drop, T0).await.unwrap();
    store.drop_voucher(ROOM, "SAN1", T0).await.unwrap();
    store.claim_voucher(ROOM, "SAN1", "lan", T0).await.unwrap();
    let sale = store.create_sale(ROOM, tea(10, 5), T0).await.unwrap();
    let typed = checkout(&store, &sale.id, "lan", 1, "0912345678", Some("TRA10"))
        .await
        .unwrap();
    let dropped = checkout(&store, &sale.id, "lan", 1, "0912345678", Some("SAN1"))
        .await
        .unwrap();
    for order in [&typed, &dropped] {
        store
            .update_order(
                ROOM,
                &order.order_id,
                &OrderChange::Cancelled,
                &OrderActor::Seller,
                T0 + 2,
            )
            .await
            .unwrap();
    }
    let counts: Vec<(String, u32, u32)> = store
        .vouchers(ROOM)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.code, v.used, v.claimed))
        .collect();
    assert_eq!(
        counts,
        [("SAN1".to_owned(), 0, 1), ("TRA10".to_owned(), 0, 0)],
        "uses back; the drop's claim stays hers"
    );
    // She may use both again, from the same phone.
    for code in ["TRA10", "SAN1"] {
        let again = checkout(&store, &sale.id, "lan", 1, "0912345678", Some(code))
            .await
            .unwrap();
        assert_eq!(again.discount_vnd, 19_900, "{code}");
    }
}
