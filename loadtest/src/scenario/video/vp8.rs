//! Reading VP8 RTP payloads (RFC 7741): does a packet start a keyframe?
//!
//! The viewers time their first decodable frame with it. A keyframe's
//! first packet has the payload descriptor's S bit set with partition
//! index 0, and the VP8 payload header after the descriptor has its P bit
//! (bit 0 of the first byte) clear.

/// Whether `payload` (an RTP payload of a VP8 stream) is the first packet
/// of a keyframe.
pub fn starts_keyframe(payload: &[u8]) -> bool {
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
        let Some(&flags) = payload.get(at) else {
            return false;
        };
        at += 1;
        // I: a picture id of 7 or (M bit) 15 bits.
        if flags & 0x80 != 0 {
            let Some(&id) = payload.get(at) else {
                return false;
            };
            at += if id & 0x80 != 0 { 2 } else { 1 };
        }
        // L: TL0PICIDX.
        if flags & 0x40 != 0 {
            at += 1;
        }
        // T or K: one byte holds TID, Y and KEYIDX.
        if flags & 0x30 != 0 {
            at += 1;
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_descriptor_then_a_clear_p_bit_is_a_keyframe() {
        assert!(starts_keyframe(&[0x10, 0x00, 0x9d, 0x01, 0x2a]));
    }

    #[test]
    fn a_set_p_bit_is_an_interframe() {
        assert!(!starts_keyframe(&[0x10, 0x01, 0x00]));
    }

    #[test]
    fn a_continuation_packet_starts_nothing() {
        assert!(!starts_keyframe(&[0x00, 0x00, 0x9d]));
        assert!(!starts_keyframe(&[0x11, 0x00]), "partition 1");
    }

    #[test]
    fn the_extended_descriptor_with_a_15_bit_picture_id_is_skipped() {
        // X, S; I; picture id with M (two bytes); then the payload header.
        assert!(starts_keyframe(&[0x90, 0x80, 0x81, 0x23, 0x00]));
        assert!(!starts_keyframe(&[0x90, 0x80, 0x81, 0x23, 0x01]));
        // I with a 7-bit id, L and T: five descriptor bytes.
        assert!(starts_keyframe(&[0x90, 0xe0, 0x05, 0x07, 0x40, 0x00]));
    }

    #[test]
    fn a_truncated_payload_is_not_a_keyframe() {
        assert!(!starts_keyframe(&[]));
        assert!(!starts_keyframe(&[0x90, 0x80]));
    }
}
