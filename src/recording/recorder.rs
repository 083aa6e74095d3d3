//! One recording: a seller's stream start copied to a Debian `ffmpeg` child
//! over loopback UDP, which muxes it into a file as it comes.
//!
//! The SFU's tap gives the room's RTP (see `media::tap`); this task rewrites
//! each packet's payload type and SSRC to the ones in the SDP it gave
//! `ffmpeg`, and sends it with a non-blocking `send_to`. It never waits on
//! `ffmpeg`: the tap is a bounded broadcast receiver, so if this task falls
//! behind it skips packets (counted in `dropped_packets`), and the seller and
//! her viewers never notice. `ffmpeg -c copy` reorders by RTP sequence
//! number, timestamps by RTP time and writes each Matroska cluster (≤ 1 s)
//! to disk as it closes (`-flush_packets 1`), so a crash loses about a
//! second.
//!
//! The recording begins on a video keyframe (one is asked for at once, and
//! again every second until it comes); audio before it is skipped, so both
//! tracks start together. It ends when the stream stops, the room ends or
//! the server shuts down: `ffmpeg` gets SIGINT and, because a blocked read
//! only notices that when a packet arrives, a few 20 ms Opus silence frames
//! continuing the audio track; it then writes the cues (seekable file).
//! H.264 is recorded into Matroska and remuxed into MP4 (`+faststart`) at
//! the end, for Chromium. If `ffmpeg` cannot start, dies, or cannot write
//! (disk full), the recording stops with its reason in the metadata; what was
//! written is remuxed so it still plays; the live goes on.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::rtp;
use rtc::shared::marshal::Marshal;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::UdpSocket;
use tokio::process::{Child, Command};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::clock::unix_millis;
use crate::media::SellerStream;

use super::rtp::{
    session_description, starts_keyframe, VideoCodec, AUDIO_PT, OPUS_SILENCE, VIDEO_PT,
};
use super::store::{new_recording_id, Layout, RecordingMeta, Status};

/// What every recording needs: where files go and which program writes them.
pub(crate) struct Settings {
    pub(crate) layout: Layout,
    pub(crate) ffmpeg: PathBuf,
}

/// The SSRC every packet is given on its way to `ffmpeg` (one per track;
/// a republish keeps the recording's SSRCs).
const VIDEO_SSRC: u32 = 0x5245_4356;
const AUDIO_SSRC: u32 = 0x5245_4341;

/// How long `ffmpeg` may take to open its ports, and to stop.
const FFMPEG_PATIENCE: Duration = Duration::from_secs(5);

/// Records `stream` until it ends or `shutdown` is cancelled.
pub(crate) async fn record(settings: Arc<Settings>, stream: SellerStream, shutdown: CancellationToken) {
    let room_id = stream.room_id.clone();
    let Some(dir) = settings.layout.room(&room_id) else {
        return;
    };
    if let Err(error) = std::fs::create_dir_all(&dir) {
        tracing::error!(room = %room_id, dir = %dir.display(), %error, "cannot record: the recordings directory cannot be created");
        return;
    }
    let video = stream
        .video
        .as_ref()
        .and_then(|track| VideoCodec::from_mime(&track.codec.mime_type));
    let id = new_recording_id(unix_millis());
    let (file, mime) = match video {
        Some(VideoCodec::H264) => (format!("{id}.mp4"), "video/mp4"),
        _ => (format!("{id}.webm"), "video/webm"),
    };
    let mut meta = RecordingMeta {
        id: id.clone(),
        room_id: room_id.clone(),
        started_at: unix_millis(),
        ended_at: None,
        duration_ms: 0,
        bytes: 0,
        mime: mime.into(),
        codecs: video
            .map(|v| v.name().to_owned())
            .into_iter()
            .chain(["opus".to_owned()])
            .collect(),
        status: Status::Recording,
        reason: None,
        dropped_packets: 0,
        file,
    };
    if let Err(error) = settings.layout.save(&meta) {
        tracing::error!(room = %room_id, %error, "cannot record: the recording's metadata cannot be written");
        return;
    }
    tracing::info!(room = %room_id, recording = %id, "recording starts");
    let outcome = run(&settings, &dir, &mut meta, stream, video, &shutdown).await;
    finish(&settings, &dir, &mut meta, outcome).await;
}

/// How the live part ended.
enum Outcome {
    /// Stopped on purpose; whether `ffmpeg` closed the file itself.
    Stopped { closed_cleanly: bool },
    /// Stopped by a failure (no file or a partial one).
    Failed(String),
}

/// The file `ffmpeg` writes while live: the final file for VP8, Matroska
/// for H.264 (remuxed into MP4 at the end).
fn live_file(dir: &Path, meta: &RecordingMeta) -> PathBuf {
    if meta.mime == "video/mp4" {
        dir.join(format!("{}.mkv", meta.id))
    } else {
        dir.join(&meta.file)
    }
}

async fn run(
    settings: &Settings,
    dir: &Path,
    meta: &mut RecordingMeta,
    mut stream: SellerStream,
    video: Option<VideoCodec>,
    shutdown: &CancellationToken,
) -> Outcome {
    let ports = match (free_port_pair(), free_port_pair()) {
        (Ok(v), Ok(a)) => (v, a),
        (Err(e), _) | (_, Err(e)) => return Outcome::Failed(format!("no free loopback port: {e}")),
    };
    let (video_port, audio_port) = (ports.0 .0, ports.1 .0);
    let fmtp = stream
        .video
        .as_ref()
        .map(|t| t.codec.sdp_fmtp_line.clone())
        .unwrap_or_default();
    let channels = stream.audio.codec.channels;
    let sdp = session_description(
        video.map(|codec| (codec, video_port, fmtp.as_str())),
        audio_port,
        channels,
    );
    let sdp_path = dir.join(format!(".{}.sdp", meta.id));
    if let Err(e) = std::fs::write(&sdp_path, sdp) {
        return Outcome::Failed(format!("cannot write the recording's SDP: {e}"));
    }
    // Free the ports just before ffmpeg takes them.
    drop(ports);
    let output = live_file(dir, meta);
    let format = if video == Some(VideoCodec::H264) {
        "matroska"
    } else {
        "webm"
    };
    let mut command = Command::new(&settings.ffmpeg);
    command
        .args(["-hide_banner", "-nostats", "-loglevel", "error"])
        .args(["-protocol_whitelist", "file,udp,rtp"])
        .arg("-i")
        .arg(&sdp_path)
        .args(["-map", "0", "-c", "copy", "-f", format])
        .args(["-cluster_time_limit", "1000", "-flush_packets", "1"])
        .args(["-progress", "pipe:1", "-y"])
        .arg(&output);
    let spawned = spawn(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_file(&sdp_path);
            return Outcome::Failed(format!(
                "could not start ffmpeg ({}): {e}",
                settings.ffmpeg.display()
            ));
        }
    };
    let progress = Arc::new(Progress::default());
    let errors = follow_output(&mut child, &progress);
    let outcome = tee(&mut child, meta, &mut stream, video, shutdown, (video_port, audio_port), &errors).await;
    let _ = std::fs::remove_file(&sdp_path);
    if progress.duration_ms() > 0 {
        meta.duration_ms = progress.duration_ms();
    }
    outcome
}

/// Copies the stream to `ffmpeg` until it ends, then stops `ffmpeg`.
async fn tee(
    child: &mut Child,
    meta: &mut RecordingMeta,
    stream: &mut SellerStream,
    video: Option<VideoCodec>,
    shutdown: &CancellationToken,
    (video_port, audio_port): (u16, u16),
    errors: &Arc<parking_lot::Mutex<String>>,
) -> Outcome {
    let socket = match UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await {
        Ok(socket) => socket,
        Err(e) => return Outcome::Failed(format!("no loopback socket: {e}")),
    };
    let video_to = SocketAddr::from((Ipv4Addr::LOCALHOST, video_port));
    let audio_to = SocketAddr::from((Ipv4Addr::LOCALHOST, audio_port));
    // ffmpeg must hold its ports before the keyframe is sent.
    let watched = if video.is_some() { video_port } else { audio_port };
    let listening = Instant::now();
    while !port_taken(watched) {
        if let Ok(Some(status)) = child.try_wait() {
            return Outcome::Failed(exit_reason(status, errors));
        }
        if listening.elapsed() > FFMPEG_PATIENCE {
            return Outcome::Failed("ffmpeg did not open its input".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut started = video.is_none();
    if !started {
        stream.request_keyframe();
    }
    let mut keyframe_retry = tokio::time::interval(Duration::from_secs(1));
    let mut buffer = vec![0u8; 1500];
    let mut last_audio: Option<(u16, u32)> = None;
    let ended = stream.ended();
    tokio::pin!(ended);
    let failure = loop {
        let (packet, kind) = tokio::select! {
            _ = &mut ended => break None,
            _ = shutdown.cancelled() => break None,
            status = child.wait() => {
                break Some(match status {
                    Ok(status) => exit_reason(status, errors),
                    Err(e) => format!("lost ffmpeg: {e}"),
                });
            }
            _ = keyframe_retry.tick(), if !started => {
                stream.request_keyframe();
                continue;
            }
            packet = recv(stream.video.as_mut().map(|t| &mut t.packets)) => (packet, VIDEO_PT),
            packet = stream.audio.packets.recv() => (packet, AUDIO_PT),
        };
        let mut packet = match packet {
            Ok(packet) => packet,
            Err(RecvError::Lagged(n)) => {
                meta.dropped_packets += n;
                continue;
            }
            Err(RecvError::Closed) => break None,
        };
        if kind == VIDEO_PT && !started {
            let Some(codec) = video else { continue };
            if !starts_keyframe(codec, &packet.payload) {
                continue;
            }
            started = true;
            meta.started_at = unix_millis();
        }
        if !started {
            continue;
        }
        let (ssrc, to) = if kind == VIDEO_PT {
            (VIDEO_SSRC, video_to)
        } else {
            last_audio = Some((packet.header.sequence_number, packet.header.timestamp));
            (AUDIO_SSRC, audio_to)
        };
        packet.header.payload_type = kind;
        packet.header.ssrc = ssrc;
        send(&socket, &mut buffer, &packet, to);
    };
    if let Some(reason) = failure {
        return Outcome::Failed(reason);
    }
    Outcome::Stopped {
        closed_cleanly: stop(child, &socket, audio_to, last_audio).await,
    }
}

/// Receives from the video track, or never if there is none.
async fn recv(
    packets: Option<&mut tokio::sync::broadcast::Receiver<rtp::Packet>>,
) -> Result<rtp::Packet, RecvError> {
    match packets {
        Some(packets) => packets.recv().await,
        None => std::future::pending().await,
    }
}

/// Sends one packet; never waits (a full socket buffer loses the packet,
/// like the network would).
fn send(socket: &UdpSocket, buffer: &mut [u8], packet: &rtp::Packet, to: SocketAddr) {
    match packet.marshal_to(buffer) {
        Ok(n) => {
            let _ = socket.try_send_to(&buffer[..n], to);
        }
        Err(error) => tracing::debug!(%error, "an RTP packet too large to record"),
    }
}

/// Asks `ffmpeg` to finish the file (SIGINT) and wakes its blocked read with
/// Opus silence continuing the audio track; whether it exited by itself.
async fn stop(
    child: &mut Child,
    socket: &UdpSocket,
    audio_to: SocketAddr,
    last_audio: Option<(u16, u32)>,
) -> bool {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: `kill` has no memory effects; the pid is our own child's,
        // which has not been reaped (we hold the `Child`).
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    }
    let (mut seq, mut ts) = last_audio.unwrap_or((0, 0));
    let mut buffer = vec![0u8; 64];
    let deadline = Instant::now() + FFMPEG_PATIENCE;
    while Instant::now() < deadline {
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(960);
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: AUDIO_PT,
                sequence_number: seq,
                timestamp: ts,
                ssrc: AUDIO_SSRC,
                ..Default::default()
            },
            payload: bytes::Bytes::from_static(OPUS_SILENCE),
        };
        send(socket, &mut buffer, &packet, audio_to);
        if let Ok(Ok(status)) = tokio::time::timeout(Duration::from_millis(20), child.wait()).await {
            return status.success() || status.code() == Some(255);
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    false
}

/// After the live part: the final file (remuxed when ffmpeg did not close it,
/// and for H.264), its size and duration, and the metadata's last word.
async fn finish(settings: &Settings, dir: &Path, meta: &mut RecordingMeta, outcome: Outcome) {
    let live = live_file(dir, meta);
    let target = dir.join(&meta.file);
    let (closed_cleanly, failure) = match outcome {
        Outcome::Stopped { closed_cleanly } => (closed_cleanly, None),
        Outcome::Failed(reason) => (false, Some(reason)),
    };
    let has_file = std::fs::metadata(&live).is_ok_and(|m| m.len() > 0);
    if has_file && (!closed_cleanly || live != target) {
        match remux(&settings.ffmpeg, &live, &target).await {
            Ok(duration_ms) => {
                if duration_ms > 0 {
                    meta.duration_ms = duration_ms;
                }
            }
            Err(reason) => {
                tracing::warn!(recording = %meta.id, %reason, "could not finish the recording's file");
            }
        }
    }
    meta.bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    meta.ended_at = Some(unix_millis());
    match failure {
        Some(reason) => {
            tracing::warn!(room = %meta.room_id, recording = %meta.id, %reason, "recording failed; the live goes on");
            meta.status = Status::Failed;
            meta.reason = Some(reason);
        }
        None if meta.bytes == 0 => {
            meta.status = Status::Failed;
            meta.reason = Some("nothing was recorded (no keyframe arrived)".into());
        }
        None => meta.status = Status::Complete,
    }
    if let Err(error) = settings.layout.save(meta) {
        tracing::error!(recording = %meta.id, %error, "could not write the recording's metadata");
    }
    tracing::info!(room = %meta.room_id, recording = %meta.id, status = ?meta.status, bytes = meta.bytes, duration_ms = meta.duration_ms, "recording ends");
}

/// Copies `input`'s streams into a seekable `output` (WebM with cues, or
/// MP4 with its index first); the duration `ffmpeg` reports. `input` is
/// removed when it is not `output`.
pub(crate) async fn remux(ffmpeg: &Path, input: &Path, output: &Path) -> Result<u64, String> {
    let mp4 = output.extension().is_some_and(|e| e == "mp4");
    let tmp = output.with_extension(if mp4 { "tmp.mp4" } else { "tmp.webm" });
    let mut command = Command::new(ffmpeg);
    command
        .args(["-hide_banner", "-nostdin", "-nostats", "-loglevel", "error"])
        .arg("-i")
        .arg(input)
        .args(["-map", "0", "-c", "copy"]);
    if mp4 {
        command.args(["-movflags", "+faststart", "-f", "mp4"]);
    } else {
        command.args(["-f", "webm"]);
    }
    command.args(["-progress", "pipe:1", "-y"]).arg(&tmp);
    let mut child = spawn(command).map_err(|e| format!("could not start ffmpeg: {e}"))?;
    let progress = Arc::new(Progress::default());
    let errors = follow_output(&mut child, &progress);
    let status = child.wait().await.map_err(|e| e.to_string())?;
    if !status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(exit_reason(status, &errors));
    }
    std::fs::rename(&tmp, output).map_err(|e| e.to_string())?;
    if input != output {
        let _ = std::fs::remove_file(input);
    }
    Ok(progress.duration_ms())
}

/// Starts `ffmpeg` with its output piped, killed if its handle is dropped,
/// and asked to stop (SIGTERM, which it treats like SIGINT: it finishes the
/// file) if the server's thread that started it dies.
fn spawn(mut command: Command) -> std::io::Result<Child> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls `prctl`, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    command.spawn()
}

/// What `ffmpeg -progress pipe:1` last said (microseconds of output).
#[derive(Default)]
struct Progress {
    out_time_us: AtomicU64,
}

impl Progress {
    fn duration_ms(&self) -> u64 {
        self.out_time_us.load(Ordering::Relaxed) / 1000
    }
}

/// Follows the child's stdout (progress) and stderr (the last error line,
/// for the metadata's reason) in the background.
fn follow_output(child: &mut Child, progress: &Arc<Progress>) -> Arc<parking_lot::Mutex<String>> {
    let errors = Arc::new(parking_lot::Mutex::new(String::new()));
    if let Some(stdout) = child.stdout.take() {
        let progress = Arc::clone(progress);
        tokio::spawn(each_line(stdout, move |line| {
            if let Some(us) = line.strip_prefix("out_time_us=") {
                if let Ok(us) = us.trim().parse::<u64>() {
                    progress.out_time_us.store(us, Ordering::Relaxed);
                }
            }
        }));
    }
    if let Some(stderr) = child.stderr.take() {
        let errors = Arc::clone(&errors);
        tokio::spawn(each_line(stderr, move |line| {
            if !line.trim().is_empty() {
                tracing::debug!(line, "ffmpeg");
                *errors.lock() = line.trim().chars().take(300).collect();
            }
        }));
    }
    errors
}

async fn each_line(reader: impl AsyncRead + Unpin, mut each: impl FnMut(&str)) {
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        each(&line);
    }
}

fn exit_reason(status: std::process::ExitStatus, errors: &parking_lot::Mutex<String>) -> String {
    let last = errors.lock().clone();
    if last.is_empty() {
        format!("ffmpeg exited ({status})")
    } else {
        format!("ffmpeg exited ({status}): {last}")
    }
}

/// An even loopback port whose successor is free too (ffmpeg takes the
/// pair: RTP, then RTCP). The sockets hold the ports until dropped.
fn free_port_pair() -> std::io::Result<(u16, [StdUdpSocket; 2])> {
    for _ in 0..100 {
        let first = StdUdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = first.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(second) = StdUdpSocket::bind((Ipv4Addr::LOCALHOST, port + 1)) {
            return Ok((port, [first, second]));
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        "no free pair of loopback UDP ports",
    ))
}

/// Whether someone (ffmpeg) holds the loopback UDP `port`.
fn port_taken(port: u16) -> bool {
    matches!(
        StdUdpSocket::bind((Ipv4Addr::LOCALHOST, port)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse
    )
}
