//! The replay buffer: the last N frames of a room, for clients that reconnect.

use std::collections::VecDeque;

use crate::bus::Frame;

/// A bounded, seq-ordered buffer of recent room frames.
#[derive(Debug)]
pub struct ReplayBuffer {
    frames: VecDeque<Frame>,
    capacity: usize,
}

impl ReplayBuffer {
    pub fn new(capacity: usize) -> ReplayBuffer {
        ReplayBuffer {
            frames: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    pub fn push(&mut self, frame: Frame) {
        if self.capacity == 0 {
            return;
        }
        if self.frames.len() == self.capacity {
            self.frames.pop_front();
        }
        self.frames.push_back(frame);
    }

    /// The frames after `last_seq`, if the buffer still holds all of them and
    /// `last_seq` is not beyond `current_seq` (a client of an older server
    /// incarnation). `None` means the client needs a snapshot.
    pub fn since(&self, last_seq: u64, current_seq: u64) -> Option<Vec<Frame>> {
        if last_seq > current_seq {
            return None;
        }
        if last_seq == current_seq {
            return Some(Vec::new());
        }
        let oldest = self.frames.front()?.seq;
        if last_seq + 1 < oldest {
            return None;
        }
        Some(
            self.frames
                .iter()
                .filter(|f| f.seq > last_seq)
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::JsonText;

    fn buffer_with(seqs: std::ops::RangeInclusive<u64>, capacity: usize) -> ReplayBuffer {
        let mut b = ReplayBuffer::new(capacity);
        for seq in seqs {
            b.push(Frame {
                seq,
                json: JsonText::from_static("{}"),
                control: None,
            });
        }
        b
    }

    fn seqs(frames: Option<Vec<Frame>>) -> Option<Vec<u64>> {
        frames.map(|f| f.iter().map(|f| f.seq).collect())
    }

    #[test]
    fn replays_exactly_the_missed_frames() {
        let b = buffer_with(1..=10, 100);
        assert_eq!(seqs(b.since(7, 10)), Some(vec![8, 9, 10]));
        assert_eq!(seqs(b.since(10, 10)), Some(vec![]));
    }

    #[test]
    fn asks_for_a_snapshot_when_frames_were_evicted() {
        let b = buffer_with(1..=10, 4); // holds 7..=10
        assert_eq!(seqs(b.since(6, 10)), Some(vec![7, 8, 9, 10]));
        assert_eq!(seqs(b.since(5, 10)), None);
    }

    #[test]
    fn asks_for_a_snapshot_when_the_client_is_ahead() {
        let b = buffer_with(1..=3, 10);
        assert_eq!(seqs(b.since(9, 3)), None);
    }
}
