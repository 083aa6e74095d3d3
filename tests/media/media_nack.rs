//! Retransmission to a viewer on a lossy path: the SFU keeps the video
//! packets it sent (webrtc-rs's NACK responder ring, `media.nack_buffer_packets`)
//! and resends the ones a viewer reports lost.
//!
//! Between the SFU and a webrtc-rs viewer sits a UDP proxy on real loopback
//! sockets, like a NAT: the viewer is given the proxy's address in place of
//! the server's, and its answer carries no candidates, so the server meets it
//! only through the proxy (as a peer-reflexive candidate, as it meets
//! browsers). The proxy drops the first copy of chosen video RTP packets (it
//! reads the sequence number from the clear SRTP header). The viewer's NACK
//! generator asks for them and the server resends them as they were: the SFU
//! negotiates no RTX, so a resend has the original SSRC and sequence number.

use crate::media_support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use chophien::media::{MediaConfig, Sfu};
use media_support::*;
use parking_lot::Mutex;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_remote::TrackRemoteEvent;
use webrtc::peer_connection::{PeerConnection, RTCSessionDescription};

/// The payload type the SFU gives VP8 when it offers to a viewer.
const VIEWER_VP8_PT: u8 = 96;
/// Video packets passed before the first drop: the viewer's NACK generator
/// can only notice a gap after a sequence number it has seen.
const WARM_UP_PACKETS: u64 = 20;
/// One video packet in this many is dropped (first copy only): 12.5 % loss.
const DROP_ONE_IN: u16 = 8;
/// How many packets the proxy drops in all.
const DROPS: usize = 10;

/// What the proxy did to the video stream.
#[derive(Default)]
struct Losses {
    /// Sequence numbers whose first copy was dropped.
    dropped: BTreeSet<u16>,
    /// Dropped sequence numbers that came through again (a resend).
    resent: BTreeSet<u16>,
}

/// A one-socket UDP proxy between the SFU (at `server`) and one viewer (the
/// first other address that writes to it).
struct LossyProxy {
    addr: SocketAddr,
    losses: Arc<Mutex<Losses>>,
    stop: CancellationToken,
}

impl LossyProxy {
    async fn start(server: SocketAddr) -> LossyProxy {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let proxy = LossyProxy {
            addr: socket.local_addr().unwrap(),
            losses: Arc::default(),
            stop: CancellationToken::new(),
        };
        tokio::spawn(relay(
            socket,
            server,
            proxy.losses.clone(),
            proxy.stop.clone(),
        ));
        proxy
    }

    fn dropped(&self) -> BTreeSet<u16> {
        self.losses.lock().dropped.clone()
    }

    fn resent(&self) -> BTreeSet<u16> {
        self.losses.lock().resent.clone()
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The sequence number of a VP8 RTP packet (RFC 7983: first byte 128–191 is
/// RTP or RTCP; RTCP's packet types, 200–206, never read as payload type 96).
fn video_seq(datagram: &[u8]) -> Option<u16> {
    let rtp = datagram.len() >= 12 && (128..=191).contains(&datagram[0]);
    (rtp && datagram[1] & 0x7f == VIEWER_VP8_PT)
        .then(|| u16::from_be_bytes([datagram[2], datagram[3]]))
}

async fn relay(
    socket: UdpSocket,
    server: SocketAddr,
    losses: Arc<Mutex<Losses>>,
    stop: CancellationToken,
) {
    let mut viewer = None;
    let mut video_passed = 0u64;
    let mut buffer = vec![0u8; 2048];
    loop {
        let (n, from) = tokio::select! {
            _ = stop.cancelled() => return,
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                Err(_) => return,
            },
        };
        let datagram = &buffer[..n];
        if from != server {
            viewer = Some(from);
            let _ = socket.send_to(datagram, server).await;
            continue;
        }
        let Some(viewer) = viewer else { continue };
        if let Some(seq) = video_seq(datagram) {
            let mut losses = losses.lock();
            if losses.dropped.contains(&seq) {
                losses.resent.insert(seq);
            } else if video_passed >= WARM_UP_PACKETS
                && losses.dropped.len() < DROPS
                && seq % DROP_ONE_IN == 0
            {
                losses.dropped.insert(seq);
                continue;
            } else {
                video_passed += 1;
            }
        }
        let _ = socket.send_to(datagram, viewer).await;
    }
}

/// The server's address in its offer, and the offer with that address
/// replaced by the proxy's.
fn through_proxy(offer: &str, proxy: SocketAddr) -> (SocketAddr, String) {
    let mut server = None;
    let mut out = String::with_capacity(offer.len());
    for line in offer.split_inclusive('\n') {
        let fields: Vec<&str> = line.trim_end().split(' ').collect();
        if line.starts_with("a=candidate:") && fields.len() > 5 {
            let addr: SocketAddr = format!("{}:{}", fields[4], fields[5]).parse().unwrap();
            assert!(
                server.is_none_or(|s| s == addr),
                "one server candidate expected"
            );
            server = Some(addr);
            let mut fields = fields;
            let (ip, port) = (proxy.ip().to_string(), proxy.port().to_string());
            fields[4] = &ip;
            fields[5] = &port;
            out.push_str(&fields.join(" "));
            out.push_str("\r\n");
        } else {
            out.push_str(line);
        }
    }
    (server.expect("the offer has the server's candidate"), out)
}

/// The answer without its candidates: the server must find the viewer
/// through the proxy.
fn without_candidates(answer: &str) -> String {
    answer
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
        .collect()
}

/// A webrtc-rs viewer (a browser's codecs and webrtc-rs's default
/// interceptors, NACK generator included) watching `room` through a
/// [`LossyProxy`]. Returns its connection, the proxy, and the video sequence
/// numbers it has received.
async fn lossy_viewer(
    sfu: &Sfu,
    room: &str,
) -> (Arc<dyn PeerConnection>, LossyProxy, Arc<Mutex<Vec<u16>>>) {
    let (signal_tx, _signal_rx) = signal_queue();
    let offer = sfu.subscribe(room, "viewer", signal_tx).await.unwrap();
    let placeholder: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let (server, _) = through_proxy(&offer, placeholder);
    let proxy = LossyProxy::start(server).await;
    let (_, offer) = through_proxy(&offer, proxy.addr);

    let (pc, mut gathered_rx, mut tracks_rx) = client_pc().await;
    pc.set_remote_description(RTCSessionDescription::offer(offer).unwrap())
        .await
        .unwrap();
    let answer = pc.create_answer(None).await.unwrap();
    pc.set_local_description(answer).await.unwrap();
    tokio::time::timeout(PATIENCE, gathered_rx.wait_for(|g| *g))
        .await
        .unwrap()
        .unwrap();
    let answer = without_candidates(&pc.local_description().await.unwrap().sdp);
    sfu.subscriber_answer(room, "viewer", answer).await.unwrap();

    let seqs = Arc::new(Mutex::new(Vec::new()));
    let sink = seqs.clone();
    tokio::spawn(async move {
        while let Some(track) = tracks_rx.recv().await {
            let video = track.kind().await == RtpCodecKind::Video;
            let sink = sink.clone();
            tokio::spawn(async move {
                while let Some(event) = track.poll().await {
                    if let TrackRemoteEvent::OnRtpPacket(p) = event {
                        if video {
                            sink.lock().push(p.header.sequence_number);
                        }
                    }
                }
            });
        }
    });
    (pc, proxy, seqs)
}

fn sfu_keeping(nack_buffer_packets: u16) -> Sfu {
    let config = MediaConfig {
        nack_buffer_packets,
        ..MediaConfig::loopback()
    };
    config.validate().unwrap();
    Sfu::new(config).unwrap()
}

async fn live_room(sfu: &Sfu, room: &str) -> TestPublisher {
    let publisher = TestPublisher::start(sfu, room, "seller").await;
    let mut live = sfu.stream_state(room);
    tokio::time::timeout(PATIENCE, live.wait_for(|l| *l))
        .await
        .unwrap()
        .unwrap();
    publisher
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_video_packet_a_viewer_loses_is_resent_from_the_default_nack_buffer() {
    let sfu = sfu_keeping(MediaConfig::loopback().nack_buffer_packets);
    let publisher = live_room(&sfu, "lossy").await;
    let (pc, proxy, received) = lossy_viewer(&sfu, "lossy").await;

    eventually("the proxy has dropped its share of the video", || {
        proxy.dropped().len() == DROPS
    })
    .await;
    let dropped = proxy.dropped();
    eventually("every dropped video packet reaches the viewer", || {
        let received: BTreeSet<u16> = received.lock().iter().copied().collect();
        dropped.is_subset(&received)
    })
    .await;
    // They came as resends through the proxy, not some other way.
    assert!(dropped.is_subset(&proxy.resent()));

    pc.close().await.unwrap();
    publisher.stop().await;
    sfu.close_room("lossy").await;
}

/// The control: the same loss against a server that keeps only the last
/// packet sent. The dropped packets stay lost, so the test above shows the
/// buffer at work, not a proxy that failed to drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_nack_buffer_the_lost_video_packets_stay_lost() {
    let sfu = sfu_keeping(1);
    let publisher = live_room(&sfu, "lossy-1").await;
    let (pc, proxy, received) = lossy_viewer(&sfu, "lossy-1").await;

    eventually("the proxy has dropped its share of the video", || {
        proxy.dropped().len() == DROPS
    })
    .await;
    let dropped = proxy.dropped();
    let last = *dropped.last().unwrap();
    // Long enough for many NACK rounds (webrtc-rs's generator sends every
    // 100 ms) after the last drop; not a timing claim.
    eventually("the viewer is well past the last drop", || {
        received
            .lock()
            .iter()
            .filter(|&&s| s.wrapping_sub(last) < 1 << 15)
            .count()
            > 30
    })
    .await;
    let received: BTreeSet<u16> = received.lock().iter().copied().collect();
    assert!(
        dropped.is_disjoint(&received),
        "nothing to resend, yet {:?} arrived",
        dropped.intersection(&received).collect::<Vec<_>>()
    );
    assert!(proxy.resent().is_empty());

    pc.close().await.unwrap();
    publisher.stop().await;
    sfu.close_room("lossy-1").await;
}
