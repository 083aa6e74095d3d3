//! The synthetic publisher's media: a real VP8 stream and an Opus stream,
//! encoded once by Debian's `ffmpeg` into a temporary directory, read into
//! memory with webrtc-rs's own IVF and Ogg readers, and the files deleted.
//!
//! Video: ffmpeg's `testsrc2` pattern, 1280×720 at 30 fps, VP8 (libvpx in
//! constant-bitrate real-time mode) at the asked bitrate, a keyframe every
//! 60 frames (2 s). Audio: a 440 Hz tone, Opus at 48 kbit/s in 20 ms
//! frames, one frame per Ogg page (`-page_duration 20000`) so each page is
//! one RTP packet. The publisher loops both; the clip length is a whole
//! number of keyframe intervals, so a loop restarts on a keyframe.

use std::io::BufReader;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use rtc::media::io::ivf_reader::IVFReader;
use rtc::media::io::ogg_reader::OggReader;

/// Frames between two keyframes (2 s at 30 fps).
pub const KEYFRAME_INTERVAL: u32 = 60;
/// Frames per second of the video.
pub const FPS: u32 = 30;

/// One encoded video frame.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// The VP8 frame as the encoder wrote it (the packetizer splits it).
    pub data: Bytes,
    /// A keyframe (bit 0 of the frame tag clear).
    pub keyframe: bool,
}

/// One Opus packet (one Ogg page) and its length in 48 kHz samples.
#[derive(Debug, Clone)]
pub struct AudioPacket {
    pub data: Bytes,
    pub samples: u32,
}

/// The clip the publisher loops.
#[derive(Debug, Clone)]
pub struct Media {
    pub video: Vec<VideoFrame>,
    pub audio: Vec<AudioPacket>,
    /// The video's real bitrate (frame bytes over the clip), bits/s.
    pub video_bps: f64,
    /// The ffmpeg command lines, for the report.
    pub commands: Vec<String>,
}

/// Encode `seconds` (rounded up to whole keyframe intervals) of video at
/// `kbps` and of audio; fails clearly when ffmpeg is missing.
pub async fn generate(seconds: u32, kbps: u32) -> anyhow::Result<Media> {
    let interval_s = KEYFRAME_INTERVAL / FPS;
    let seconds = seconds.div_ceil(interval_s).max(1) * interval_s;
    let dir = tempfile::tempdir().context("a temporary directory for the media")?;
    let ivf = dir.path().join("video.ivf");
    let ogg = dir.path().join("audio.ogg");
    let rate = format!("{kbps}k");
    let (t, g) = (seconds.to_string(), KEYFRAME_INTERVAL.to_string());
    let video_args: Vec<&str> = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30",
        "-t",
        &t,
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        &rate,
        "-minrate",
        &rate,
        "-maxrate",
        &rate,
        "-g",
        &g,
        "-keyint_min",
        &g,
        "-auto-alt-ref",
        "0",
        "-lag-in-frames",
        "0",
    ];
    let audio_args: Vec<&str> = vec![
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &t,
        "-c:a",
        "libopus",
        "-b:a",
        "48k",
        "-frame_duration",
        "20",
        "-page_duration",
        "20000",
    ];
    let commands = vec![
        ffmpeg(&video_args, &ivf).await?,
        ffmpeg(&audio_args, &ogg).await?,
    ];
    let video = read_ivf(&ivf)?;
    let audio = read_ogg(&ogg)?;
    if video.is_empty() || !video[0].keyframe {
        bail!("ffmpeg's VP8 clip does not start with a keyframe");
    }
    if audio.is_empty() {
        bail!("ffmpeg's Opus clip is empty");
    }
    let bytes: usize = video.iter().map(|f| f.data.len()).sum();
    let clip = Duration::from_secs_f64(video.len() as f64 / f64::from(FPS));
    Ok(Media {
        video_bps: bytes as f64 * 8.0 / clip.as_secs_f64().max(0.001),
        video,
        audio,
        commands,
    })
    // `dir` and the files in it are removed here.
}

/// Run `ffmpeg <args> <out>`; the command line.
async fn ffmpeg(args: &[&str], out: &Path) -> anyhow::Result<String> {
    let output = tokio::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .await
        .context("the video scenario encodes its media with ffmpeg: apt-get install ffmpeg")?;
    if !output.status.success() {
        bail!(
            "ffmpeg failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let name = out.file_name().map_or(out.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    });
    Ok(format!("ffmpeg {} {name}", args.join(" ")))
}

fn read_ivf(path: &Path) -> anyhow::Result<Vec<VideoFrame>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let (mut reader, _header) =
        IVFReader::new(BufReader::new(file)).map_err(|e| anyhow::anyhow!("IVF header: {e}"))?;
    let mut frames = Vec::new();
    while let Ok((frame, _)) = reader.parse_next_frame() {
        let keyframe = frame.first().is_some_and(|tag| tag & 0x01 == 0);
        frames.push(VideoFrame {
            data: frame.freeze(),
            keyframe,
        });
    }
    Ok(frames)
}

fn read_ogg(path: &Path) -> anyhow::Result<Vec<AudioPacket>> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let (mut reader, _head) = OggReader::new(BufReader::new(file), true)
        .map_err(|e| anyhow::anyhow!("Ogg Opus header: {e}"))?;
    let mut packets = Vec::new();
    let mut last_granule = 0u64;
    while let Ok((page, header)) = reader.parse_next_page() {
        // The comment page carries no audio.
        if page.starts_with(b"OpusTags") {
            continue;
        }
        let samples = header.granule_position.saturating_sub(last_granule);
        last_granule = header.granule_position;
        if page.is_empty() || samples == 0 {
            continue;
        }
        packets.push(AudioPacket {
            data: page.freeze(),
            samples: samples.min(u64::from(u32::MAX)) as u32,
        });
    }
    Ok(packets)
}
