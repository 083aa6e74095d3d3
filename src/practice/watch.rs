//! The automatic prompter's task: one per practice room opened on this
//! node, from its opening until it ends (or the node stops). It joins the
//! room like a connection would — as a hidden trainer, so it is counted
//! nowhere as a viewer and the journal sees no visit — reads its events,
//! feeds them to the [`Prompter`] on the lesson's clock and tells the
//! trainee what it says (`coach::tell`, `by` = `auto`). It also says when the
//! room first goes live (`went_live`), which is when a class's simulated
//! audience arrives.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::auth::Role;
use crate::bus::SubscriptionError;
use crate::journal::Journal;
use crate::protocol::{DirectEvent, RoomEvent, RoomStatus, SequencedEvent};
use crate::room::{Actor, RoomError, RoomRegistry};

use super::clock::LessonClock;
use super::coach;
use super::prompter::Prompter;

/// The prompter's identity in the rooms it watches (and in the journal).
pub const PROMPTER_ID: &str = "auto";
/// How often the prompter looks at the time (real time). Fine enough for
/// 30 s and 60 s thresholds at ten times the speed.
const TICK: Duration = Duration::from_millis(200);
/// Wait before joining again after the store could not be reached.
const RETRY: Duration = Duration::from_secs(1);

/// Watch `room_id` until it ends or `stop` is cancelled; `went_live` is
/// sent once, the first time the room is seen live.
pub fn spawn(
    rooms: RoomRegistry,
    journal: Journal,
    room_id: String,
    speed: f64,
    stop: CancellationToken,
    went_live: tokio::sync::oneshot::Sender<()>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let clock = LessonClock::start(speed);
        let mut prompter = Prompter::new();
        let mut last_seq = None;
        let mut went_live = Some(went_live);
        loop {
            match watch(
                &rooms,
                &journal,
                &room_id,
                clock,
                Seen {
                    prompter: &mut prompter,
                    last_seq: &mut last_seq,
                    went_live: &mut went_live,
                },
                &stop,
            )
            .await
            {
                Watched::Over => return,
                Watched::Rejoin => {}
                Watched::Retry => {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(RETRY) => {}
                    }
                }
            }
        }
    })
}

/// What the watcher has seen so far, kept across rejoins.
struct Seen<'a> {
    prompter: &'a mut Prompter,
    last_seq: &'a mut Option<u64>,
    /// Sent (and taken) the first time the room is seen live.
    went_live: &'a mut Option<tokio::sync::oneshot::Sender<()>>,
}

impl Seen<'_> {
    /// Feed one frame to the prompter; say so if the room went live.
    fn frame(&mut self, json: &str, now: u64) {
        see_frame(self.prompter, json, now, self.last_seq);
        if self.prompter.has_gone_live() {
            if let Some(went_live) = self.went_live.take() {
                let _ = went_live.send(());
            }
        }
    }
}

enum Watched {
    /// The room ended, is gone, or the node stops.
    Over,
    /// Fell behind: join again from the last event seen.
    Rejoin,
    /// The store could not be reached: try again shortly.
    Retry,
}

async fn watch(
    rooms: &RoomRegistry,
    journal: &Journal,
    room_id: &str,
    clock: LessonClock,
    mut seen: Seen<'_>,
    stop: &CancellationToken,
) -> Watched {
    let actor = Actor {
        user_id: PROMPTER_ID.to_owned(),
        name: PROMPTER_ID.to_owned(),
        role: Role::Trainer,
    };
    let mut membership = match rooms.join(room_id, &actor, *seen.last_seq).await {
        Ok(membership) => membership,
        Err(RoomError::Ended | RoomError::RoomNotFound | RoomError::Banned) => {
            return Watched::Over
        }
        Err(error) => {
            tracing::debug!(room = %room_id, %error, "the prompter could not join");
            return Watched::Retry;
        }
    };
    for json in &membership.initial {
        seen.frame(json.as_str(), clock.now_ms());
    }
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Watched::Over,
            // The room ended, or this node gave it up without it ending
            // (it lost the store): watch again once it can.
            _ = membership.stop.cancelled() => {
                return match membership.room().is_closed() {
                    true => Watched::Over,
                    false => Watched::Retry,
                };
            }
            frame = membership.events.recv() => match frame {
                Ok(frame) => {
                    seen.frame(frame.json.as_str(), clock.now_ms());
                    if frame.is_last() {
                        return Watched::Over;
                    }
                }
                Err(SubscriptionError::Lagged { .. }) => return Watched::Rejoin,
                Err(SubscriptionError::Closed) => return Watched::Retry,
            },
            _ = ticker.tick() => {
                for prompt in seen.prompter.tick(clock.now_ms()) {
                    coach::tell(rooms, journal, room_id, PROMPTER_ID, PROMPTER_ID, &prompt);
                }
            }
        }
    }
}

/// Feed one frame the room sent (a snapshot, `resumed`, or an event) to
/// the prompter.
fn see_frame(prompter: &mut Prompter, json: &str, now: u64, last_seq: &mut Option<u64>) {
    let Ok(value) = serde_json::from_str::<Value>(json) else {
        return;
    };
    if value.get("seq").is_some() && value["type"] != "snapshot" {
        if let Ok(event) = serde_json::from_value::<SequencedEvent>(value) {
            *last_seq = Some(event.seq);
            see_event(prompter, &event.event, now);
        }
        return;
    }
    if let Ok(DirectEvent::Snapshot(snapshot)) = serde_json::from_value::<DirectEvent>(value) {
        *last_seq = Some(snapshot.seq);
        if snapshot.room.status == RoomStatus::Live {
            prompter.went_live(now);
        }
        prompter.viewers(snapshot.room.viewer_count, now);
    }
}

fn see_event(prompter: &mut Prompter, event: &RoomEvent, now: u64) {
    match event {
        RoomEvent::Chat { message } => prompter.chat(message, now),
        RoomEvent::MessageDeleted { message_id } => prompter.deleted(*message_id),
        RoomEvent::ViewerCount { count } => prompter.viewers(*count, now),
        RoomEvent::RoomStatus { status } => match status {
            RoomStatus::Live => prompter.went_live(now),
            RoomStatus::Ended => prompter.ended(),
            RoomStatus::Scheduled => {}
        },
        RoomEvent::RoomClosed { .. } => prompter.ended(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE_SNAPSHOT: &str = r#"{"type":"snapshot","seq":7,"room":{"id":"r","title":"t",
        "seller_name":"Lan","status":"live","viewer_count":4,"pinned_product_id":null,
        "created_at":1,"practice":true},"products":[],"pinned_product":null,"chat":[],
        "settings":{"slow_mode_seconds":0},"hearts_total":0,"sale":null,"stream_live":false,
        "ice_servers":[],"me":{"user_id":"auto","name":"auto","role":"trainer"},"node":"n"}"#;

    fn kinds(prompter: &mut Prompter, now: u64) -> Vec<String> {
        prompter.tick(now).into_iter().map(|p| p.kind).collect()
    }

    #[test]
    fn a_snapshot_of_a_live_room_starts_the_clock_and_events_follow() {
        let mut prompter = Prompter::new();
        let mut last_seq = None;
        see_frame(&mut prompter, LIVE_SNAPSHOT, 0, &mut last_seq);
        assert_eq!(last_seq, Some(7));
        let question = r#"{"seq":8,"type":"chat","message":{"id":1,"user_id":"v","name":"Mai",
            "role":"viewer","text":"còn hàng không?","sent_at":5}}"#;
        see_frame(&mut prompter, question, 1_000, &mut last_seq);
        assert_eq!(last_seq, Some(8));
        assert_eq!(kinds(&mut prompter, 31_001), ["question_waiting"]);
        see_frame(
            &mut prompter,
            r#"{"seq":9,"type":"viewer_count","count":1}"#,
            32_000,
            &mut last_seq,
        );
        assert_eq!(kinds(&mut prompter, 32_000), ["viewers_dropping"]);
        see_frame(&mut prompter, "not json", 33_000, &mut last_seq);
        see_frame(
            &mut prompter,
            r#"{"seq":10,"type":"room_closed","reason":"bye"}"#,
            33_000,
            &mut last_seq,
        );
        assert!(kinds(&mut prompter, 100_000).is_empty(), "ended");
    }
}
