//! The service layer: HTTP API, WebSocket endpoint, static web client,
//! and the server's life cycle (bind, serve, graceful shutdown).
//!
//! [`Server::bind`] builds the shared [`AppState`] and the axum router;
//! [`Server::run`] serves until the given shutdown future resolves, then
//! stops accepting, tells every connection (`server_shutdown`, close 1001)
//! and waits up to `shutdown_grace_secs` for them to drain.

mod api;
mod command;
mod compliance;
mod connection;
mod credentials;
mod fulfilment;
mod guest;
mod headers;
mod journal;
pub mod lesson;
mod limits;
mod live_page;
mod media;
mod order_page;
mod orders;
mod payment;
mod photos;
mod practice;
mod presence;
mod refusal;
mod relay;
mod replay;
mod reports;
mod sales;
mod schedule;
mod scorecard;
mod vouchers;
mod webhooks;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post, put};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use crate::auth::TokenKeys;
use crate::config::{Config, StoreKind};
use crate::journal::Journal;
use crate::media::{
    ClusterLink, MediaDirectory, MediaError, MemoryDirectory, NodeAddr, RedisDirectory, Sfu,
};
use crate::metrics::Metrics;
use crate::node::NodeDirectory;
use crate::payment::PaymentStore;
use crate::recording::Recordings;
use crate::redis_link::{LinkError, RedisLink};
use crate::room::store::{AnyRoomStore, MemoryRoomStore, RedisRoomStore};
use crate::room::RoomRegistry;
use crate::sale::{
    AnySaleStore, GroupCommit, MemorySaleStore, RedisSaleStore, RedisStoreOptions, SaleError,
};
use crate::webhook::Webhooks;
use guest::Guests;
use order_page::OrderLookups;
use vouchers::VoucherTries;

pub use api::ApiError;
pub use relay::{HttpRelayTransport, NodeTokens};
pub use replay::signature as replay_signature;

/// Everything request handlers share. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub config: Config,
    pub keys: TokenKeys,
    pub rooms: RoomRegistry,
    /// Flash-sale stock, holds and orders (memory or Redis, per `store.kind`).
    pub sales: AnySaleStore,
    /// Each room's bank account for VietQR transfers (same store kind).
    pub payments: PaymentStore,
    /// The WebRTC SFU forwarding sellers' video to viewers.
    pub sfu: Sfu,
    /// Recordings of sellers' streams on this node, and every replay in the
    /// (shared) recordings directory.
    pub recordings: Recordings,
    /// Rooms' webhooks and their outbox (memory or Redis, per `store.kind`);
    /// the order code publishes order events here.
    pub webhooks: Webhooks,
    /// Every room's session journal (files or Redis, per `store.kind`):
    /// what reports are computed from.
    pub journal: Journal,
    /// Practice rooms' scorecard weights, set by their trainers (this
    /// node's memory; the defaults elsewhere).
    pub score_weights: crate::practice::score::WeightsStore,
    /// Reports' figures of ended sessions, which no longer change.
    pub previous_sessions:
        dashmap::DashMap<(String, crate::clock::UnixMillis), crate::analytics::PreviousSession>,
    pub metrics: Metrics,
    /// Guest devices: cookie signing and the per-address limit.
    pub guests: Guests,
    /// The order page's per-address limit.
    pub order_lookups: OrderLookups,
    /// Voucher tries per identity (against guessing codes).
    pub voucher_tries: VoucherTries,
    /// Cancelled when the server starts shutting down; every connection
    /// watches it.
    pub shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for them to drain.
    pub connections: TaskTracker,
    /// Source of connection ids for logs.
    next_connection_id: AtomicU64,
    /// Who this node is among others.
    pub node: NodeIdentity,
    /// The live nodes of the deployment (this one alone without Redis).
    pub nodes: NodeDirectory,
    /// Cleared while the node has lost its link to Redis: `/readyz` answers
    /// 503 and joins are refused, so clients go to a node that can serve them.
    pub serving: AtomicBool,
    /// Trainers' classes opened on this node, and the practice rooms it
    /// knows (which route their sales to `practice_sales`).
    pub classes: crate::practice::Classes,
    /// Practice rooms' sales, bags, vouchers and orders: always this node's
    /// memory, whatever `store.kind`, and without the webhook journal, so
    /// no practice order reaches Redis' sale keys or a shop's webhook.
    pub practice_sales: AnySaleStore,
    /// The compiled compliance rules (shared with the checks spawned after
    /// hosts' requests, hence the `Arc`).
    pub compliance: Arc<crate::compliance::Checker>,
    /// Practice rooms' journals as the class overview last parsed them.
    pub practice_journals: crate::practice::follow::Followers,
    /// Practice rooms' simulated audiences running on this node, the
    /// personas they draw from and the scenario library.
    pub audiences: crate::practice::audience::Audiences,
    /// Product photos: checks, encoding and the (shared) photos directory.
    pub photos: crate::photos::Photos,
}

/// Who this node is among others.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub id: String,
    /// Where other nodes reach this one over HTTP.
    pub url: String,
    pub started_at: crate::clock::UnixMillis,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The shared state over the stores `Server::bind` chose (must run
    /// inside a Tokio runtime: the room registry starts its upkeep task).
    pub fn new(
        config: Config,
        sales: AnySaleStore,
        payments: PaymentStore,
        rooms: AnyRoomStore,
        sfu: Sfu,
        webhooks: Webhooks,
        journal: Journal,
    ) -> AppState {
        let shutdown = CancellationToken::new();
        // One id for the node: in the room store, the node directory and
        // the media directory (the SFU's).
        let node = NodeIdentity {
            id: sfu.node_id().to_owned(),
            // `Server::bind_with` fills it in with the bound address when unset.
            url: match config.cluster.advertise_url.as_str() {
                "" => format!("http://{}", config.server.listen),
                url => url.trim_end_matches('/').to_owned(),
            },
            started_at: crate::clock::unix_millis(),
        };
        let nodes = match config.store.kind {
            StoreKind::Memory => NodeDirectory::single(),
            StoreKind::Redis => NodeDirectory::redis(
                config.store.redis_target(),
                Duration::from_secs(1),
            )
            .unwrap_or_else(|error| {
                tracing::error!(%error, "no node directory in Redis; this node lists itself only");
                NodeDirectory::single()
            }),
        };
        let rooms = RoomRegistry::new(
            rooms,
            config.room_settings(),
            node.id.clone(),
            shutdown.clone(),
            journal.clone(),
        );
        AppState(Arc::new(Shared {
            keys: TokenKeys::new(&config.auth.secret),
            rooms,
            sales,
            payments,
            recordings: Recordings::new(&config, &sfu),
            sfu,
            webhooks,
            journal,
            previous_sessions: dashmap::DashMap::new(),
            score_weights: crate::practice::score::WeightsStore::new(),
            metrics: Metrics::new(),
            guests: Guests::new(&config),
            order_lookups: OrderLookups::new(&config),
            voucher_tries: VoucherTries::new(&config),
            shutdown,
            connections: TaskTracker::new(),
            next_connection_id: AtomicU64::new(1),
            node,
            nodes,
            serving: AtomicBool::new(true),
            classes: crate::practice::Classes::new(),
            practice_sales: AnySaleStore::Memory(MemorySaleStore::new()),
            compliance: Arc::new(crate::compliance::Checker::for_config(&config.compliance)),
            practice_journals: crate::practice::follow::Followers::new(),
            audiences: lesson::audiences(&config),
            photos: crate::photos::Photos::new(&config),
            config,
        }))
    }

    /// The sale store for `room_id`'s sales, bag, vouchers and orders: this
    /// node's practice store for a practice room, the configured one for
    /// every other room. Every use of a sale store for a room goes through
    /// here.
    pub fn sales_for(&self, room_id: &str) -> &AnySaleStore {
        if self.classes.is_practice_room(room_id) {
            &self.practice_sales
        } else {
            &self.sales
        }
    }

    fn next_connection_id(&self) -> u64 {
        self.next_connection_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[from] std::io::Error),
    #[error("could not open the sale store: {0}")]
    Store(#[from] SaleError),
    #[error("could not reach Redis: {0}")]
    Redis(#[from] LinkError),
    #[error("could not start the media server: {0}")]
    Media(#[from] MediaError),
}

/// A bound, not yet running server.
pub struct Server {
    state: AppState,
    listener: TcpListener,
}

impl Server {
    /// Bind the configured address (port 0 picks a free one). Rooms' media
    /// origins are recorded where rooms are: in this process with the memory
    /// store (a single node), in Redis with the Redis store, so every node
    /// on that Redis relays a room's video from wherever its seller publishes.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        Server::open(config, None).await
    }

    /// Bind, recording rooms' media origins in `media_directory`, which every
    /// node serving the same rooms shares (several nodes in one process, in
    /// tests): viewers here of a room published on another node get its
    /// video through a relay from that node.
    pub async fn bind_with(
        config: Config,
        media_directory: Arc<dyn MediaDirectory>,
    ) -> Result<Server, ServerError> {
        Server::open(config, Some(media_directory)).await
    }

    async fn open(
        mut config: Config,
        media_directory: Option<Arc<dyn MediaDirectory>>,
    ) -> Result<Server, ServerError> {
        let addr = config.server.listen;
        // One store kind for all: rooms, their sales, their sellers' bank
        // accounts, their streams' origins and their webhooks' outbox live
        // together.
        let webhook_settings = config.webhook_settings();
        let enabled = config.journal.enabled;
        let (sales, payments, rooms, media_directory, webhooks, journal) = match config.store.kind {
            StoreKind::Memory => {
                let settings = config.room_settings();
                let journal = match enabled {
                    true => Journal::in_files(config.journal_dir(), config.journal.retention_days),
                    false => Journal::disabled(),
                };
                let rooms = MemoryRoomStore::new(settings.limits, settings.replay_capacity)
                    .with_journal(journal.clone());
                let webhooks = Webhooks::in_memory(webhook_settings);
                let sales = MemorySaleStore::new().with_journal(Arc::new(webhooks.clone()));
                (
                    AnySaleStore::Memory(sales),
                    PaymentStore::memory(),
                    AnyRoomStore::Memory(Arc::new(rooms)),
                    media_directory.unwrap_or_else(|| Arc::new(MemoryDirectory::default())),
                    webhooks,
                    journal,
                )
            }
            StoreKind::Redis => {
                let options = RedisStoreOptions {
                    op_timeout: Duration::from_millis(config.store.op_timeout_ms),
                    group_commit: Some(GroupCommit {
                        queue_wait: Duration::from_millis(config.store.buy_queue_ms),
                        queue_limit: config.store.buy_queue_limit,
                    }),
                    ..RedisStoreOptions::new(config.store.redis_target())
                };
                // One link (one socket per Redis node, one library load) for
                // everything.
                let link = RedisLink::connect(options.target, options.op_timeout).await?;
                let rooms = RedisRoomStore::new(link.clone(), config.redis_room_options());
                let directory =
                    media_directory.unwrap_or_else(|| Arc::new(RedisDirectory::new(link.clone())));
                let webhooks = Webhooks::on_redis(link.clone(), webhook_settings);
                // Orders' events are written with the orders (sale::journal).
                let sales = RedisSaleStore::on(link.clone(), options.group_commit)
                    .with_journal(Arc::new(webhooks.clone()));
                let journal = match enabled {
                    true => Journal::on_redis(link.clone(), config.journal.retention_days),
                    false => Journal::disabled(),
                };
                (
                    AnySaleStore::Redis(sales),
                    PaymentStore::redis(link),
                    AnyRoomStore::Redis(Arc::new(rooms)),
                    directory,
                    webhooks,
                    journal,
                )
            }
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        // Other nodes reach this one where it really listens (port 0 picked one).
        let bound = listener.local_addr().unwrap_or(addr);
        if config.cluster.node_id.is_empty() {
            config.cluster.node_id =
                format!("n-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        }
        if config.cluster.advertise_url.is_empty() {
            config.cluster.advertise_url = format!("http://{bound}");
        }
        let node = NodeAddr {
            id: config.cluster.node_id.clone(),
            url: config
                .cluster
                .advertise_url
                .trim_end_matches('/')
                .to_owned(),
        };
        let transport = HttpRelayTransport::new(&config.auth.secret, &node.id)
            .map_err(|e| ServerError::Media(MediaError::Relay(e)))?;
        let link = ClusterLink {
            node,
            directory: media_directory,
            transport: Arc::new(transport),
        };
        let sfu = Sfu::clustered(config.media.clone(), link)?;
        Ok(Server {
            state: AppState::new(config, sales, payments, rooms, sfu, webhooks, journal),
            listener,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has a local address.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.server.listen)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serve until `signal` resolves, then shut down gracefully.
    pub async fn run(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let state = self.state.clone();
        let app = router(state.clone());
        let stock_every = Duration::from_millis(state.config.rooms.sale_stock_interval_ms.max(10));
        sales::spawn_announcer(state.clone(), stock_every);
        presence::spawn_heartbeat(state.clone());
        sales::spawn_sweeper(
            &state,
            Duration::from_millis(state.config.store.sweep_interval_ms.max(10)),
        );
        sales::spawn_practice_sweeper(
            &state,
            Duration::from_millis(state.config.store.sweep_interval_ms.max(10)),
        );
        state.webhooks.spawn_worker(state.shutdown.clone());
        state.recordings.start(state.shutdown.clone());
        let shutdown = state.shutdown.clone();
        tokio::spawn(async move {
            signal.await;
            shutdown.cancel();
        });
        let stop_accepting = state.shutdown.clone();
        // Peer addresses for per-address limits (`guest.rs`).
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        // Nagle off: an answer that follows another small frame (a room
        // event, then the reply) must not wait for the client's delayed ACK
        // (up to 40 ms on Linux).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop_accepting.cancelled().await })
            .await?;

        // Connections have been told (they watch `shutdown`); give them time to drain.
        state.connections.close();
        let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
        if tokio::time::timeout(grace, state.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = state.connections.len(),
                "connections did not drain in time"
            );
        }
        // Recordings running at shutdown finish their files (cues, MP4 index).
        state.recordings.finished(Duration::from_secs(10)).await;
        tracing::info!("server stopped");
        Ok(())
    }
}

/// The configured web root; a relative one that does not exist from the
/// current directory falls back to the source tree's, so `cargo run` works
/// from any directory.
fn web_root(configured: &Path) -> PathBuf {
    if configured.is_relative() && !configured.exists() {
        let in_source = Path::new(env!("CARGO_MANIFEST_DIR")).join(configured);
        if in_source.exists() {
            return in_source;
        }
    }
    configured.to_path_buf()
}

fn router(state: AppState) -> Router {
    let web_root = web_root(&state.config.server.web_root);
    let state_for_photos = state.clone();
    let routes = Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/api/rooms", get(api::list_rooms).post(api::create_room))
        .route(
            "/api/rooms/{room_id}",
            get(api::get_room).patch(schedule::patch_room),
        )
        .route("/api/rooms/{room_id}/close", post(api::close_room))
        .route("/api/rooms/{room_id}/orders", get(orders::list))
        .route("/api/rooms/{room_id}/report", get(reports::report))
        .route("/api/rooms/{room_id}/report.csv", get(reports::report_csv))
        .route("/api/rooms/{room_id}/journal", get(reports::journal))
        .route("/api/rooms/{room_id}/timeline", get(reports::timeline))
        .route("/api/rooms/{room_id}/orders.csv", get(orders::csv))
        .route(
            "/api/rooms/{room_id}/orders/status",
            post(orders::change_many),
        )
        .route(
            "/api/rooms/{room_id}/orders/{order_id}/status",
            post(orders::change_status),
        )
        .route("/api/banks", get(payment::banks))
        .route(
            "/api/rooms/{room_id}/payment",
            get(payment::get_account)
                .put(payment::put_account)
                .delete(payment::delete_account),
        )
        .route(
            "/api/rooms/{room_id}/orders/{order_id}/vietqr",
            get(payment::code_json),
        )
        .route(
            "/api/rooms/{room_id}/orders/{order_id}/vietqr.svg",
            get(payment::code_svg),
        )
        .route(
            "/api/rooms/{room_id}/orders/{order_id}/vietqr.png",
            get(payment::code_png),
        )
        .route(
            "/api/rooms/{room_id}/webhook",
            get(webhooks::get)
                .put(webhooks::put)
                .delete(webhooks::delete),
        )
        .route(
            "/api/rooms/{room_id}/webhook/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/rooms/{room_id}/webhook/deliveries/{event_id}/retry",
            post(webhooks::retry),
        )
        .route("/api/rooms/{room_id}/webhook/test", post(webhooks::test))
        .route(
            "/api/rooms/{room_id}/vouchers",
            get(vouchers::list).post(vouchers::create),
        )
        .route("/api/rooms/{room_id}/recordings", get(replay::list))
        .route(
            "/api/rooms/{room_id}/recordings/{recording_id}",
            get(replay::file),
        )
        .route("/api/rooms/{room_id}/replay", put(replay::put_replay))
        .route("/api/replays", get(replay::published))
        .route("/api/dev/token", post(api::dev_token))
        .route("/api/guest/token", post(guest::guest_token))
        .route("/api/orders/lookup", post(order_page::lookup))
        .route("/api/orders/cancel", post(order_page::cancel))
        .route("/api/orders/vietqr", post(order_page::vietqr))
        .route("/api/admin/nodes", get(api::nodes))
        .route(
            "/api/classes",
            get(practice::list_classes).post(practice::create_class),
        )
        .route("/api/classes/{class_id}", get(practice::get_class))
        .route("/api/classes/{class_id}/overview", get(practice::overview))
        .route(
            "/api/classes/{class_id}/weights",
            put(practice::put_weights),
        )
        .route(
            "/api/classes/{class_id}/rooms/{room_id}/retry",
            post(practice::retry),
        )
        .route("/api/practice/nudges", get(practice::nudges))
        .route(
            "/api/practice/rooms/{room_id}/scorecard",
            get(scorecard::scorecard),
        )
        .route(
            "/api/practice/rooms/{room_id}/weights",
            put(scorecard::put_weights),
        )
        .route(
            "/api/practice/rooms/{room_id}/marks",
            put(scorecard::put_marks),
        )
        .route(
            "/api/practice/rooms/{room_id}/annotations",
            get(scorecard::annotations).post(scorecard::post_annotation),
        )
        .route(
            "/api/practice/scorecards.csv",
            get(scorecard::scorecards_csv),
        )
        .route("/api/practice/compare", get(scorecard::compare))
        .route("/api/compliance/check", post(compliance::check))
        .route(
            "/api/practice/rooms/{room_id}/audience",
            get(lesson::audience)
                .post(lesson::start_audience)
                .delete(lesson::stop_audience),
        )
        .route(
            "/api/practice/rooms/{room_id}/scenarios/{scenario_id}",
            post(lesson::fire),
        )
        .route(
            "/api/practice/scenarios",
            get(lesson::scenarios).post(lesson::save_scenario),
        )
        .route("/api/rooms/{room_id}/photos", post(photos::upload))
        .route("/ws/rooms/{room_id}", get(ws::upgrade))
        // Scheduling and sharing: a room's share page and calendar event.
        .route("/live/{room_id}", get(live_page::page))
        .route("/live/{room_id}/calendar.ics", get(live_page::calendar))
        .merge(relay::routes())
        .fallback_service(ServeDir::new(web_root).append_index_html_on_directories(true))
        .with_state(state);
    // Photo files carry their own, stricter headers (`photos.rs`).
    headers::secure(routes).merge(photos::serving(state_for_photos))
}
