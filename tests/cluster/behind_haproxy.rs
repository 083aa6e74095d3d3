//! Several real `chophien` processes on one real Redis, behind a real
//! HAProxy (issue 9): nodes come and go, clients go where rooms are served.

use crate::support;

use std::time::Duration;

use chophien::auth::Role;
use reqwest::StatusCode;
use serde_json::{json, Value};

use support::client::Client;
use support::cluster::{http, http_status, wait_until, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_lists_the_live_nodes_and_the_rooms_they_serve() {
    let cluster = Cluster::start(2);
    cluster.open_room(0, "r1").await;
    let (_viewer, _) =
        Client::join(&cluster.node_ws(0, "r1", &cluster.token("r1", Role::Viewer, "lan"))).await;
    let admin = cluster.token("*", Role::Admin, "root");
    let mut listing = Value::Null;
    // Both nodes beat every 300 ms; node 1's report names the room once it
    // has beaten after the join.
    for _ in 0..100 {
        listing = http()
            .get(cluster.node_http(1, "/api/admin/nodes"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if listing["rooms"]["r1"] == json!(["node-1"]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids: Vec<&str> = listing["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["node-1", "node-2"], "{listing}");
    assert_eq!(listing["rooms"]["r1"], json!(["node-1"]), "{listing}");
    assert_eq!(listing["nodes"][0]["rooms"][0]["viewers"], 1, "{listing}");
    assert_eq!(listing["nodes"][0]["ready"], true);
    // Only admins see it.
    let seller = cluster.token("r1", Role::Seller, "hoa");
    let refused = http()
        .get(cluster.node_http(1, "/api/admin/nodes"))
        .bearer_auth(seller)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stopped_beating_leaves_the_directory() {
    let mut cluster = Cluster::start(2);
    cluster.kill(1);
    let admin = cluster.token("*", Role::Admin, "root");
    let url = cluster.node_http(0, "/api/admin/nodes");
    let mut remaining = Value::Null;
    for _ in 0..60 {
        let listing: Value = http()
            .get(&url)
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        remaining = listing["nodes"].clone();
        if remaining.as_array().map(Vec::len) == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(remaining[0]["id"], "node-1", "{remaining}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_stops_taking_clients_and_sends_its_own_elsewhere() {
    let cluster = Cluster::start(1);
    cluster.open_room(0, "r1").await;
    let url = cluster.node_ws(0, "r1", &cluster.token("r1", Role::Viewer, "lan"));
    let (mut viewer, _) = Client::join(&url).await;
    cluster.redis().freeze();
    // Within the partition grace (1 s in the test cluster) plus a beat.
    assert_eq!(
        viewer.next_of("server_shutdown").await["type"],
        "server_shutdown"
    );
    assert_eq!(viewer.closed().await.0, 1001);
    let ready = cluster.node_http(0, "/readyz");
    wait_until(Duration::from_secs(10), "readiness to fail", || {
        http_status(&ready) == Some(503)
    });
    let refused = Client::connect(&url).await.err().expect("refused");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["error"]["code"], "unavailable");
    cluster.redis().thaw();
    wait_until(Duration::from_secs(10), "readiness to return", || {
        http_status(&ready) == Some(200)
    });
    Client::join(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_balancer_routes_around_a_node_that_died() {
    let mut cluster = Cluster::start(3).with_haproxy();
    cluster.kill(1);
    // Every request through the balancer still succeeds: a refused
    // connection is retried on another node, and the health check takes the
    // dead one out within two seconds.
    for _ in 0..30 {
        let status = http()
            .get(cluster.lb_http("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK);
    }
    cluster.restart(1);
    let url = cluster.node_http(1, "/readyz");
    wait_until(Duration::from_secs(10), "the node to be back", || {
        http_status(&url) == Some(200)
    });
}
