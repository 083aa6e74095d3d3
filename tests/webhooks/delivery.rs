//! Delivery: at least once, same event id, signed, retried with a growing
//! wait, given up after the last attempt and sent again on request.

use std::time::Duration;

use chophien::webhook::{EventType, VerifyError};
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::receiver::Receiver;
use super::support::server::Store;
use super::{config, deliveries, http, publish, seller, server, set_webhook, wait_for_state, ROOM};

async fn a_failing_receiver_gets_the_same_signed_event_until_it_accepts(store: Store) {
    let receiver = Receiver::start(2).await;
    let server = server(store, config()).await;
    let secret = set_webhook(&server, &receiver.url("/hooks")).await;
    let data = json!({"order_id": "o-1", "quantity": 2, "total_vnd": 398000});
    let event_id = publish(&server, EventType::OrderCreated, data.clone())
        .await
        .expect("the room has a webhook");

    let got = receiver.wait_for(3).await;
    let answers: Vec<u16> = got.iter().map(|r| r.answered).collect();
    assert_eq!(answers, [500, 500, 204]);
    for request in &got {
        assert_eq!(request.event_id, event_id);
        assert_eq!(request.event_type, "order.created");
        assert_eq!(request.content_type, "application/json");
        assert_eq!(
            request.body, got[0].body,
            "every attempt sends the same bytes"
        );
        assert_eq!(request.verify(&secret), Ok(()));
        assert_eq!(
            request.verify("whsec_not-the-rooms-secret"),
            Err(VerifyError::Mismatch)
        );
    }
    let envelope = got[0].json();
    assert_eq!(envelope["id"], event_id.as_str());
    assert_eq!(envelope["type"], "order.created");
    assert_eq!(envelope["room_id"], ROOM);
    assert_eq!(envelope["data"], data);
    assert!(envelope["created_at"].as_u64().is_some());

    let entry = wait_for_state(&server, &event_id, "delivered").await;
    assert_eq!(entry["attempts"], 3);
    assert_eq!(entry["last_status"], 204);
    assert_eq!(entry["last_error"], Value::Null);
    assert_eq!(entry["next_attempt_at"], Value::Null);
    assert_eq!(entry["event_type"], "order.created");
    assert!(entry.get("body").is_none(), "the log does not carry bodies");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 3, "nothing after a 2xx");
}

async fn the_wait_between_attempts_grows(store: Store) {
    let receiver = Receiver::start(3).await;
    let server = server(store, config()).await;
    set_webhook(&server, &receiver.url("/hooks")).await;
    publish(&server, EventType::OrderUpdated, json!({"order_id": "o-1"})).await;

    let got = receiver.wait_for(4).await;
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    // Base 200 ms, doubling, less up to 20 % jitter: about 0.2, 0.4, 0.8 s.
    assert!(gaps[0] >= Duration::from_millis(150), "{gaps:?}");
    assert!(gaps[1] > gaps[0], "{gaps:?}");
    assert!(gaps[2] > gaps[1], "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(600), "{gaps:?}");
}

async fn a_delivery_that_runs_out_of_attempts_fails_and_a_retry_sends_it_again(store: Store) {
    let receiver = Receiver::start(2).await;
    let mut config = config();
    config.webhooks.max_attempts = 2;
    let server = server(store, config).await;
    let secret = set_webhook(&server, &receiver.url("/hooks")).await;
    let event_id = publish(
        &server,
        EventType::OrderCancelled,
        json!({"order_id": "o-9"}),
    )
    .await
    .unwrap();

    let failed = wait_for_state(&server, &event_id, "failed").await;
    assert_eq!(failed["attempts"], 2);
    assert_eq!(failed["last_status"], 500);
    assert!(failed["last_error"].as_str().unwrap().contains("500"));
    assert!(failed["last_attempt_at"].as_u64().is_some());
    assert_eq!(receiver.received().len(), 2);

    let retried = http()
        .post(server.http(&format!(
            "/api/rooms/{ROOM}/webhook/deliveries/{event_id}/retry"
        )))
        .bearer_auth(seller(&server))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["event_id"], event_id.as_str());
    assert_eq!(retried["state"], "pending");

    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].event_id, event_id);
    assert_eq!(got[2].answered, 204);
    assert_eq!(got[2].verify(&secret), Ok(()));
    let delivered = wait_for_state(&server, &event_id, "delivered").await;
    assert_eq!(delivered["attempts"], 3);

    for unknown in [uuid::Uuid::new_v4().to_string(), "not-an-event".to_owned()] {
        let response = http()
            .post(server.http(&format!(
                "/api/rooms/{ROOM}/webhook/deliveries/{unknown}/retry"
            )))
            .bearer_auth(seller(&server))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "delivery_not_found");
    }
}

async fn the_test_endpoint_sends_a_signed_ping(store: Store) {
    let receiver = Receiver::start(0).await;
    let server = server(store, config()).await;
    let test = || {
        http()
            .post(server.http(&format!("/api/rooms/{ROOM}/webhook/test")))
            .bearer_auth(seller(&server))
            .send()
    };
    let refused = test().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "webhook_not_found");

    let secret = set_webhook(&server, &receiver.url("/hooks")).await;
    let queued = test().await.unwrap();
    assert_eq!(queued.status(), StatusCode::ACCEPTED);
    let queued: Value = queued.json().await.unwrap();
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event_id, queued["event_id"].as_str().unwrap());
    assert_eq!(got[0].event_type, "ping");
    assert_eq!(got[0].json()["type"], "ping");
    assert_eq!(got[0].verify(&secret), Ok(()));
}

async fn every_order_event_type_arrives_under_its_own_name(store: Store) {
    let receiver = Receiver::start(0).await;
    let server = server(store, config()).await;
    set_webhook(&server, &receiver.url("/hooks")).await;
    for kind in [
        EventType::OrderCreated,
        EventType::OrderUpdated,
        EventType::OrderCancelled,
    ] {
        publish(&server, kind, json!({"order_id": "o-1"}))
            .await
            .unwrap();
    }
    let mut types: Vec<String> = receiver
        .wait_for(3)
        .await
        .iter()
        .map(|r| {
            assert_eq!(r.json()["type"], r.event_type.as_str());
            r.event_type.clone()
        })
        .collect();
    types.sort();
    assert_eq!(types, ["order.cancelled", "order.created", "order.updated"]);
    let log = deliveries(&server).await;
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["event_type"], "order.cancelled", "newest first");
}

async fn a_room_without_a_webhook_queues_nothing(store: Store) {
    let server = server(store, config()).await;
    let published = publish(&server, EventType::OrderCreated, json!({})).await;
    assert_eq!(published, None);
    assert!(deliveries(&server).await.is_empty());
}

async fn a_redirect_is_not_followed(store: Store) {
    let receiver = Receiver::start(0).await;
    let mut config = config();
    config.webhooks.max_attempts = 2;
    let server = server(store, config).await;
    set_webhook(&server, &receiver.url("/redirect")).await;
    let event_id = publish(&server, EventType::OrderCreated, json!({}))
        .await
        .unwrap();
    let failed = wait_for_state(&server, &event_id, "failed").await;
    assert_eq!(failed["last_status"], 302);
    assert!(failed["last_error"].as_str().unwrap().contains("redirect"));
    let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/redirect", "/redirect"]);
}

async fn removing_the_webhook_fails_its_pending_deliveries(store: Store) {
    let receiver = Receiver::start(1).await;
    let mut config = config();
    config.webhooks.retry_base_ms = 1_000;
    let server = server(store, config).await;
    set_webhook(&server, &receiver.url("/hooks")).await;
    let event_id = publish(&server, EventType::OrderCreated, json!({}))
        .await
        .unwrap();
    receiver.wait_for(1).await;
    let removed = http()
        .delete(server.http(&format!("/api/rooms/{ROOM}/webhook")))
        .bearer_auth(seller(&server))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let failed = wait_for_state(&server, &event_id, "failed").await;
    assert_eq!(failed["attempts"], 2);
    assert!(failed["last_error"]
        .as_str()
        .unwrap()
        .contains("no webhook"));
    assert_eq!(receiver.received().len(), 1);
}

crate::on_every_store!(
    a_failing_receiver_gets_the_same_signed_event_until_it_accepts,
    the_wait_between_attempts_grows,
    a_delivery_that_runs_out_of_attempts_fails_and_a_retry_sends_it_again,
    the_test_endpoint_sends_a_signed_ping,
    every_order_event_type_arrives_under_its_own_name,
    a_room_without_a_webhook_queues_nothing,
    a_redirect_is_not_followed,
    removing_the_webhook_fails_its_pending_deliveries,
);
