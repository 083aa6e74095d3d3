//! The chat delivery audit: every viewer must receive every accepted
//! message, in order, exactly once — whatever node it and the sender are on.
//!
//! Pure logic over plain data, unit-tested on its own. Each viewer keeps a
//! [`ViewerLog`] while it reads:
//! - the room's `seq` must go up by one from the viewer's snapshot on: a
//!   seq seen again is a duplicate, one that arrives after a later one is
//!   out of order, and one never seen between two that were is a gap;
//! - each sender's messages carry their number `n`, sent in order on one
//!   socket: the same `n` twice is a duplicate, a smaller `n` after a larger
//!   one is out of order, and an `n` never seen is lost.
//!
//! Losses count only for viewers connected until the end (one dropped as a
//! slow consumer is counted apart); duplicates and reordering count for
//! every viewer.
//!
//! A message answered `unavailable` (the store did not answer in time) may
//! or may not have been committed: nobody must receive it, but once any
//! viewer did, it was committed and every viewer must. Lost messages are also grouped by route — the sender's node
//! and the viewer's — so "node 1 → node 0 lost everything" reads at a glance.

use std::collections::{BTreeMap, BTreeSet};

use crate::report::DeliveryAudit;

/// Skipped numbers remembered per viewer (so a late arrival is recognised
/// as out of order); beyond this a gap is only counted.
const MAX_REMEMBERED_GAP: u64 = 10_000;
/// Violation lines kept per kind; a broken bus can produce thousands.
const MAX_LINES_PER_KIND: usize = 10;

/// A load-test chat message: its sender and its number for that sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageId {
    pub sender: usize,
    pub n: u64,
}

/// What one frame was, as far as ordering goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    Duplicate,
    OutOfOrder,
}

/// One sender's messages as one viewer received them.
#[derive(Debug, Clone, Default)]
struct FromSender {
    /// The next number expected (one past the highest received).
    next: u64,
    /// Numbers skipped over that may still arrive (late: out of order).
    skipped: BTreeSet<u64>,
    /// Distinct messages received.
    received: u64,
}

/// Everything one viewer saw, checked as it arrives.
#[derive(Debug, Clone)]
pub struct ViewerLog {
    /// The node this viewer is connected to.
    pub node: usize,
    /// The last room-event seq (the snapshot's at first); `None` until known.
    last_seq: Option<u64>,
    /// Seqs skipped over that may still arrive late.
    skipped_seqs: BTreeSet<u64>,
    /// Seqs skipped beyond what `skipped_seqs` remembers.
    unremembered_gap: u64,
    /// Indexed by sender.
    senders: Vec<FromSender>,
    /// Distinct load-test messages received.
    pub received: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// The first problem seen, in words, for the report.
    first_problem: Option<String>,
}

impl ViewerLog {
    /// A viewer on `node` whose snapshot carried `snapshot_seq` (none for
    /// servers without seq, such as the Socket.IO peer).
    pub fn new(node: usize, senders: usize, snapshot_seq: Option<u64>) -> ViewerLog {
        ViewerLog {
            node,
            last_seq: snapshot_seq,
            skipped_seqs: BTreeSet::new(),
            unremembered_gap: 0,
            senders: vec![FromSender::default(); senders],
            received: 0,
            duplicates: 0,
            out_of_order: 0,
            first_problem: None,
        }
    }

    /// Record one frame: a room event's `seq` and/or a load-test message.
    /// True when it brought a message this viewer had not received yet.
    pub fn frame(&mut self, seq: Option<u64>, message: Option<MessageId>) -> bool {
        let mut problem = None;
        if let Some(seq) = seq {
            problem = self.seq(seq);
        }
        let mut new = false;
        if let Some(id) = message {
            if id.sender >= self.senders.len() {
                self.senders.resize(id.sender + 1, FromSender::default());
            }
            let from = &mut self.senders[id.sender];
            if id.n >= from.next {
                remember(&mut from.skipped, from.next, id.n);
                from.next = id.n + 1;
                new = true;
            } else if from.skipped.remove(&id.n) {
                new = true;
                if problem.is_none() {
                    problem = Some((
                        Problem::OutOfOrder,
                        format!(
                            "message {} of sender {} after message {}",
                            id.n,
                            id.sender,
                            from.next - 1
                        ),
                    ));
                }
            } else if problem.is_none() {
                problem = Some((
                    Problem::Duplicate,
                    format!("message {} of sender {} twice", id.n, id.sender),
                ));
            }
            if new {
                from.received += 1;
                self.received += 1;
            }
        }
        if let Some((kind, words)) = problem {
            match kind {
                Problem::Duplicate => self.duplicates += 1,
                Problem::OutOfOrder => self.out_of_order += 1,
            }
            self.first_problem.get_or_insert(words);
        }
        new
    }

    fn seq(&mut self, seq: u64) -> Option<(Problem, String)> {
        let Some(last) = self.last_seq else {
            self.last_seq = Some(seq);
            return None;
        };
        if seq > last {
            let (from, to) = (last + 1, seq);
            if to - from > MAX_REMEMBERED_GAP {
                self.unremembered_gap += to - from;
            } else {
                remember(&mut self.skipped_seqs, from, to);
            }
            self.last_seq = Some(seq);
            None
        } else if self.skipped_seqs.remove(&seq) {
            Some((Problem::OutOfOrder, format!("seq {seq} after seq {last}")))
        } else {
            Some((Problem::Duplicate, format!("seq {seq} twice")))
        }
    }

    /// Room events never seen between the snapshot and the last one seen.
    pub fn seq_gaps(&self) -> u64 {
        self.skipped_seqs.len() as u64 + self.unremembered_gap
    }

    /// Distinct messages received from `sender`.
    pub fn received_from(&self, sender: usize) -> u64 {
        self.senders.get(sender).map_or(0, |s| s.received)
    }

    /// Whether message `n` of `sender` was received (as far as remembered:
    /// a number skipped in a gap wider than the remembered span counts as
    /// received).
    pub fn has(&self, sender: usize, n: u64) -> bool {
        self.senders
            .get(sender)
            .is_some_and(|s| n < s.next && !s.skipped.contains(&n))
    }
}

/// Note `from..to` as skipped (not too many of them).
fn remember(skipped: &mut BTreeSet<u64>, from: u64, to: u64) {
    if to > from && to - from <= MAX_REMEMBERED_GAP {
        skipped.extend(from..to);
    }
}

/// One viewer at the end of the run.
pub struct ViewerEnd {
    /// Its identity, e.g. `lt-v17`.
    pub name: String,
    pub log: ViewerLog,
    /// Connected until told to stop (not dropped as slow, not broken off).
    pub connected_to_end: bool,
}

/// What one sender got through: its node, the messages the server
/// accepted (sent minus refused minus unknown), and the numbers of those
/// whose outcome is unknown (answered `unavailable`).
#[derive(Debug, Clone, Default)]
pub struct SenderTotal {
    pub node: usize,
    pub accepted: u64,
    pub unknown: Vec<u64>,
}

/// Check every viewer against what the senders got through.
pub fn audit(viewers: &[ViewerEnd], senders: &[SenderTotal]) -> DeliveryAudit {
    let mut out = DeliveryAudit::default();
    let mut lines: BTreeMap<&str, (Vec<String>, usize)> = BTreeMap::new();
    let mut line = |kind: &'static str, text: String| {
        let (kept, more) = lines.entry(kind).or_default();
        if kept.len() < MAX_LINES_PER_KIND {
            kept.push(text);
        } else {
            *more += 1;
        }
    };
    // An unknown outcome any viewer received was committed: all must get it.
    let expected: Vec<u64> = senders
        .iter()
        .enumerate()
        .map(|(j, sender)| {
            out.unknown_outcome += sender.unknown.len() as u64;
            let committed = sender
                .unknown
                .iter()
                .filter(|&&n| viewers.iter().any(|v| v.log.has(j, n)))
                .count() as u64;
            out.unknown_delivered += committed;
            sender.accepted + committed
        })
        .collect();
    let mut viewers_losing: BTreeMap<String, u64> = BTreeMap::new();
    for viewer in viewers {
        let log = &viewer.log;
        out.duplicates += log.duplicates;
        out.out_of_order += log.out_of_order;
        if log.duplicates + log.out_of_order > 0 {
            line(
                "ORDER",
                format!(
                    "ORDER: viewer {} (node {}) saw {} duplicate and {} out-of-order frames, first: {}",
                    viewer.name,
                    log.node,
                    log.duplicates,
                    log.out_of_order,
                    log.first_problem.as_deref().unwrap_or("?")
                ),
            );
        }
        if !viewer.connected_to_end {
            continue;
        }
        out.viewers_checked += 1;
        let gaps = log.seq_gaps();
        if gaps > 0 {
            out.seq_gaps += gaps;
            line(
                "GAP",
                format!(
                    "GAP: viewer {} (node {}) never saw {gaps} room events between its snapshot and its last event",
                    viewer.name, log.node
                ),
            );
        }
        let mut lost_here = 0;
        for (j, sender) in senders.iter().enumerate() {
            let lost = expected[j].saturating_sub(log.received_from(j));
            if lost > 0 {
                lost_here += lost;
                *out.lost_by_route
                    .entry(format!("{}->{}", sender.node, log.node))
                    .or_default() += lost;
            }
        }
        if lost_here > 0 {
            out.messages_lost += lost_here;
            *viewers_losing
                .entry(format!("node {}", log.node))
                .or_default() += 1;
        }
    }
    if out.messages_lost > 0 {
        let routes: Vec<String> = out
            .lost_by_route
            .iter()
            .map(|(route, n)| {
                format!(
                    "{n} sent via node {}",
                    route.replace("->", " to viewers on node ")
                )
            })
            .collect();
        let who: Vec<String> = viewers_losing
            .iter()
            .map(|(node, n)| format!("{n} viewers on {node}"))
            .collect();
        line(
            "LOST",
            format!(
                "LOST: {} messages never reached viewers connected until the end ({}; {})",
                out.messages_lost,
                routes.join(", "),
                who.join(", ")
            ),
        );
    }
    for (_, (kept, more)) in lines {
        out.violations.extend(kept);
        if more > 0 {
            out.violations.push(format!("… and {more} more like it"));
        }
    }
    out.ok = out.violations.is_empty();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(sender: usize, n: u64) -> Option<MessageId> {
        Some(MessageId { sender, n })
    }

    fn end(name: &str, log: ViewerLog) -> ViewerEnd {
        ViewerEnd {
            name: name.into(),
            log,
            connected_to_end: true,
        }
    }

    fn two_senders(each: u64) -> [SenderTotal; 2] {
        [
            SenderTotal {
                node: 0,
                accepted: each,
                ..SenderTotal::default()
            },
            SenderTotal {
                node: 1,
                accepted: each,
                ..SenderTotal::default()
            },
        ]
    }

    #[test]
    fn everything_once_and_in_order_passes() {
        let mut log = ViewerLog::new(0, 2, Some(10));
        assert!(log.frame(Some(11), msg(0, 0)));
        assert!(!log.frame(Some(12), None)); // a viewer_count event
        assert!(log.frame(Some(13), msg(1, 0)));
        assert!(log.frame(Some(14), msg(0, 1)));
        assert!(log.frame(Some(15), msg(1, 1)));
        let audit = audit(&[end("v", log)], &two_senders(2));
        assert!(audit.ok, "{audit:?}");
        assert_eq!(audit.viewers_checked, 1);
    }

    #[test]
    fn a_seq_seen_twice_is_a_duplicate() {
        let mut log = ViewerLog::new(0, 1, Some(1));
        assert!(log.frame(Some(2), msg(0, 0)));
        assert!(!log.frame(Some(2), msg(0, 0)));
        assert_eq!((log.duplicates, log.out_of_order), (1, 0));
        let audit = audit(&[end("v", log)], &two_senders(1)[..1]);
        assert!(!audit.ok);
        assert_eq!(audit.duplicates, 1);
        assert!(audit.violations[0].contains("seq 2 twice"), "{audit:?}");
    }

    #[test]
    fn a_late_seq_is_out_of_order_and_not_a_gap() {
        let mut log = ViewerLog::new(0, 1, Some(0));
        assert!(log.frame(Some(2), msg(0, 1)));
        assert_eq!(log.seq_gaps(), 1);
        assert!(log.frame(Some(1), msg(0, 0)));
        assert_eq!((log.duplicates, log.out_of_order), (0, 1));
        assert_eq!(log.seq_gaps(), 0);
        let audit = audit(&[end("v", log)], &two_senders(2)[..1]);
        assert_eq!(audit.out_of_order, 1);
        assert_eq!(audit.messages_lost, 0);
        assert!(!audit.ok);
    }

    #[test]
    fn a_seq_never_seen_is_a_gap() {
        let mut log = ViewerLog::new(0, 1, Some(5));
        log.frame(Some(8), msg(0, 0));
        let audit = audit(&[end("v", log)], &two_senders(1)[..1]);
        assert_eq!(audit.seq_gaps, 2);
        assert!(!audit.ok);
    }

    #[test]
    fn without_seq_a_sender_going_backwards_is_out_of_order() {
        // The Socket.IO peer has no seq: only the messages' numbers count.
        let mut log = ViewerLog::new(0, 1, None);
        log.frame(None, msg(0, 0));
        log.frame(None, msg(0, 2));
        log.frame(None, msg(0, 1));
        log.frame(None, msg(0, 1));
        assert_eq!((log.duplicates, log.out_of_order), (1, 1));
        assert_eq!(log.received, 3);
    }

    #[test]
    fn losses_are_counted_by_route() {
        // Node 0's viewer gets only node 0's sender: rooms not shared.
        let mut a = ViewerLog::new(0, 2, Some(0));
        a.frame(Some(1), msg(0, 0));
        a.frame(Some(2), msg(0, 1));
        let mut b = ViewerLog::new(1, 2, Some(0));
        b.frame(Some(1), msg(1, 0));
        b.frame(Some(2), msg(1, 1));
        let audit = audit(&[end("a", a), end("b", b)], &two_senders(2));
        assert_eq!(audit.messages_lost, 4);
        assert_eq!(audit.lost_by_route["1->0"], 2);
        assert_eq!(audit.lost_by_route["0->1"], 2);
        assert!(!audit.ok);
        assert!(
            audit.violations[0].starts_with("LOST: 4 messages"),
            "{audit:?}"
        );
    }

    #[test]
    fn a_viewer_dropped_early_loses_nothing_but_its_order_still_counts() {
        let mut log = ViewerLog::new(0, 1, Some(0));
        log.frame(Some(1), msg(0, 0));
        log.frame(Some(1), msg(0, 0));
        let dropped = ViewerEnd {
            name: "slow".into(),
            log,
            connected_to_end: false,
        };
        let audit = audit(&[dropped], &two_senders(5)[..1]);
        assert_eq!(audit.messages_lost, 0);
        assert_eq!(audit.viewers_checked, 0);
        assert_eq!(audit.duplicates, 1);
    }

    #[test]
    fn refused_messages_leave_a_hole_that_is_not_a_violation() {
        // Sender 0 sent 0, 1, 2; message 1 was refused (accepted = 2).
        let mut log = ViewerLog::new(0, 1, Some(0));
        log.frame(Some(1), msg(0, 0));
        log.frame(Some(2), msg(0, 2));
        let senders = [SenderTotal {
            node: 0,
            accepted: 2,
            ..SenderTotal::default()
        }];
        let audit = audit(&[end("v", log)], &senders);
        assert!(audit.ok, "{audit:?}");
    }

    #[test]
    fn an_unknown_outcome_may_be_missing_everywhere_but_not_somewhere() {
        // Sender 0 sent 0, 1, 2, 3; 1 and 3 were answered `unavailable`.
        let senders = [SenderTotal {
            node: 0,
            accepted: 2,
            unknown: vec![1, 3],
        }];
        let viewer = |with_3: bool| {
            let mut log = ViewerLog::new(0, 1, Some(0));
            log.frame(Some(1), msg(0, 0));
            log.frame(Some(2), msg(0, 2));
            if with_3 {
                log.frame(Some(3), msg(0, 3));
            }
            log
        };
        // Message 1 was never committed, 3 was: both viewers must have 3.
        let fine = audit(&[end("a", viewer(true)), end("b", viewer(true))], &senders);
        assert!(fine.ok, "{fine:?}");
        assert_eq!((fine.unknown_outcome, fine.unknown_delivered), (2, 1));
        let short = audit(&[end("a", viewer(true)), end("b", viewer(false))], &senders);
        assert!(!short.ok);
        assert_eq!(short.messages_lost, 1);
        // Nobody got 3: not committed, nothing lost.
        let none = audit(&[end("a", viewer(false))], &senders);
        assert!(none.ok, "{none:?}");
    }

    #[test]
    fn many_problems_keep_few_lines() {
        let viewers: Vec<ViewerEnd> = (0..30)
            .map(|i| {
                let mut log = ViewerLog::new(0, 1, Some(0));
                log.frame(Some(1), msg(0, 0));
                log.frame(Some(1), msg(0, 0));
                end(&format!("v{i}"), log)
            })
            .collect();
        let audit = audit(&viewers, &two_senders(1)[..1]);
        assert_eq!(audit.duplicates, 30);
        assert_eq!(audit.violations.len(), MAX_LINES_PER_KIND + 1);
        assert!(audit.violations.last().unwrap().contains("20 more"));
    }
}
