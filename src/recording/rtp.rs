//! What the recorder must know about the RTP it copies: where a video
//! keyframe starts (a recording begins on one, so its first frame decodes),
//! and the SDP that tells `ffmpeg` what arrives on which port. Pure logic.

use std::fmt::Write as _;

/// The video codecs a recording can hold, as the SFU forwards them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    Vp8,
    H264,
}

impl VideoCodec {
    /// From an RTP codec's mime type (`video/VP8`, `video/H264`).
    pub fn from_mime(mime: &str) -> Option<VideoCodec> {
        if mime.eq_ignore_ascii_case("video/vp8") {
            Some(VideoCodec::Vp8)
        } else if mime.eq_ignore_ascii_case("video/h264") {
            Some(VideoCodec::H264)
        } else {
            None
        }
    }

    /// The codec's name in `ffprobe` and in a recording's metadata.
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "vp8",
            VideoCodec::H264 => "h264",
        }
    }
}

/// Whether an RTP payload starts a video keyframe.
pub fn starts_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::Vp8 => vp8_keyframe(payload),
        VideoCodec::H264 => h264_keyframe(payload),
    }
}

/// RFC 7741 §4.2: the payload descriptor, then (at the start of partition
/// 0) the VP8 frame header, whose lowest bit is 0 for a key frame.
fn vp8_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0;
    let partition = first & 0x07;
    if !start || partition != 0 {
        return false;
    }
    let mut at = 1;
    if extended {
        let Some(&x) = payload.get(1) else {
            return false;
        };
        at = 2;
        if x & 0x80 != 0 {
            // PictureID: one byte, or two when its M bit is set.
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID/Y/KEYIDX
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

/// RFC 6184: a single IDR or SPS NAL unit, an STAP-A holding one, or the
/// first fragment (FU-A) of one.
fn h264_keyframe(payload: &[u8]) -> bool {
    let is_key = |nal_type: u8| nal_type == 5 || nal_type == 7;
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        24 => {
            let mut at = 1;
            while let (Some(&hi), Some(&lo)) = (payload.get(at), payload.get(at + 1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                match payload.get(at + 2) {
                    Some(&nal) if is_key(nal & 0x1f) => return true,
                    Some(_) => at += 2 + size,
                    None => return false,
                }
            }
            false
        }
        28 => payload
            .get(1)
            .is_some_and(|&fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        nal_type => is_key(nal_type),
    }
}

/// Payload types in the recorder's SDP (the packets are rewritten to them).
pub const VIDEO_PT: u8 = 96;
pub const AUDIO_PT: u8 = 111;

/// The SDP `ffmpeg` reads: video (if any) on `video_port`, Opus on
/// `audio_port`, both from loopback. `fmtp` is the seller's video fmtp line
/// (H.264's packetization mode and profile).
pub fn session_description(
    video: Option<(VideoCodec, u16, &str)>,
    audio_port: u16,
    audio_channels: u16,
) -> String {
    let mut sdp = String::from(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=chophien recording\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n",
    );
    if let Some((codec, port, fmtp)) = video {
        let name = match codec {
            VideoCodec::Vp8 => "VP8",
            VideoCodec::H264 => "H264",
        };
        let _ = write!(
            sdp,
            "m=video {port} RTP/AVP {VIDEO_PT}\r\na=rtpmap:{VIDEO_PT} {name}/90000\r\n"
        );
        if !fmtp.is_empty() {
            let _ = write!(sdp, "a=fmtp:{VIDEO_PT} {fmtp}\r\n");
        }
    }
    let _ = write!(
        sdp,
        "m=audio {audio_port} RTP/AVP {AUDIO_PT}\r\na=rtpmap:{AUDIO_PT} opus/48000/{}\r\n",
        audio_channels.max(2)
    );
    sdp
}

/// A 20 ms Opus frame of silence (TOC: CELT fullband 20 ms, mono, one
/// frame), used to wake `ffmpeg` so it notices it was asked to stop.
pub const OPUS_SILENCE: &[u8] = &[0xf8, 0xff, 0xfe];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vp8_key_frame_is_the_start_of_partition_zero_with_p_clear() {
        assert!(starts_keyframe(VideoCodec::Vp8, &[0x10, 0x00, 0x9d, 0x01]));
        // Inter frame (P bit set).
        assert!(!starts_keyframe(VideoCodec::Vp8, &[0x10, 0x01, 0x9d]));
        // Not the start of a partition.
        assert!(!starts_keyframe(VideoCodec::Vp8, &[0x00, 0x00]));
        // Extended descriptor with a two-byte picture id, as browsers send.
        assert!(starts_keyframe(
            VideoCodec::Vp8,
            &[0x90, 0x80, 0x81, 0x23, 0x50, 0x9d]
        ));
        assert!(!starts_keyframe(
            VideoCodec::Vp8,
            &[0x90, 0x80, 0x81, 0x23, 0x51, 0x9d]
        ));
        // Picture id, TL0PICIDX and TID present.
        assert!(starts_keyframe(
            VideoCodec::Vp8,
            &[0x90, 0xe0, 0x05, 0x01, 0x20, 0x00]
        ));
        assert!(!starts_keyframe(VideoCodec::Vp8, &[]));
        assert!(!starts_keyframe(VideoCodec::Vp8, &[0x90, 0x80]));
    }

    #[test]
    fn an_h264_key_frame_is_an_idr_or_sps_alone_aggregated_or_fragmented() {
        assert!(starts_keyframe(VideoCodec::H264, &[0x65, 0x88]));
        assert!(starts_keyframe(VideoCodec::H264, &[0x67, 0x42]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x41, 0x9a]));
        // STAP-A: SPS (2 bytes), then PPS.
        assert!(starts_keyframe(
            VideoCodec::H264,
            &[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x01, 0x68]
        ));
        assert!(!starts_keyframe(
            VideoCodec::H264,
            &[0x78, 0x00, 0x01, 0x68, 0x00, 0x01, 0x06]
        ));
        // FU-A: start of an IDR; a middle fragment is not a start.
        assert!(starts_keyframe(VideoCodec::H264, &[0x7c, 0x85, 0x00]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x7c, 0x05, 0x00]));
        assert!(!starts_keyframe(VideoCodec::H264, &[0x7c]));
        assert!(!starts_keyframe(VideoCodec::H264, &[]));
    }

    #[test]
    fn the_sdp_names_each_port_and_codec() {
        let sdp = session_description(
            Some((VideoCodec::H264, 5000, "packetization-mode=1")),
            5002,
            2,
        );
        assert!(sdp.contains("m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"));
        assert!(sdp.contains("a=fmtp:96 packetization-mode=1\r\n"));
        assert!(sdp.contains("m=audio 5002 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n"));
        let audio_only = session_description(None, 6000, 2);
        assert!(!audio_only.contains("m=video"));
    }
}
