//! The automatic prompter of a live practice room: what it watches and
//! when it speaks. A pure state machine on the lesson's clock (lesson
//! milliseconds, the real time times the lesson's speed): `watch.rs` feeds
//! it the room's events and asks it, on every tick, what to tell the
//! trainee.
//!
//! It speaks when
//! - a viewer's question (`analytics::question`) has waited over
//!   [`QUESTION_WAIT_MS`] without a reply quoting it: one prompt naming the
//!   oldest asker and counting the other questions waiting, only when a
//!   question no prompt mentioned became overdue, at most one every
//!   [`QUESTION_PROMPT_GAP_MS`] — fifty bots asking at once make one prompt,
//!   not fifty;
//! - the audience is [`DROP_PERCENT`] % or more below the last minute's peak
//!   (a peak of at least [`MIN_PEAK`]), at most once a minute;
//! - the trainee has written nothing in chat for over [`SILENCE_MS`] while
//!   live, once per silence.

use std::collections::VecDeque;

use crate::analytics::question::is_question;
use crate::auth::Role;
use crate::protocol::ChatMessage;

use super::coach::Coaching;

/// A question waits this long (lesson time) before the trainee is told.
pub const QUESTION_WAIT_MS: u64 = 30_000;
/// At most one question prompt this often.
pub const QUESTION_PROMPT_GAP_MS: u64 = 15_000;
/// Silence in chat this long is pointed out.
pub const SILENCE_MS: u64 = 60_000;
/// The window whose peak the audience is compared with.
pub const AUDIENCE_WINDOW_MS: u64 = 60_000;
/// A fall of this many percent from the window's peak is "dropping".
pub const DROP_PERCENT: u64 = 30;
/// Below this peak a fall is noise (one classmate leaving), not a trend.
pub const MIN_PEAK: u64 = 3;
/// At most one dropping prompt this often.
pub const DROP_PROMPT_GAP_MS: u64 = 60_000;
/// Unanswered questions remembered at most (the oldest are forgotten):
/// bounded memory whatever the bots do.
pub const MAX_WAITING: usize = 500;

/// A viewer's question not answered yet.
#[derive(Debug, Clone, PartialEq)]
struct Waiting {
    message_id: u64,
    asker: String,
    text: String,
    asked_at: u64,
    /// Already named or counted in a prompt.
    told: bool,
}

/// What the prompter knows of one room.
#[derive(Debug, Default)]
pub struct Prompter {
    /// When the room went live (lesson ms); nothing is prompted before.
    live_since: Option<u64>,
    ended: bool,
    /// Oldest first.
    waiting: VecDeque<Waiting>,
    last_question_prompt: Option<u64>,
    /// When the trainee last wrote in chat (or the room went live).
    last_spoke: u64,
    silence_told: bool,
    /// Viewer counts of the last window, oldest first.
    audience: VecDeque<(u64, u64)>,
    last_drop_prompt: Option<u64>,
}

impl Prompter {
    pub fn new() -> Prompter {
        Prompter::default()
    }

    /// Has the room gone live (whether or not it has ended since)?
    pub fn has_gone_live(&self) -> bool {
        self.live_since.is_some()
    }

    /// The room is live as of `at` (its status event, or the snapshot of a
    /// room already live).
    pub fn went_live(&mut self, at: u64) {
        if self.live_since.is_none() {
            self.live_since = Some(at);
            self.last_spoke = at;
        }
    }

    /// The room ended: the prompter has nothing more to say.
    pub fn ended(&mut self) {
        self.ended = true;
    }

    /// A chat message of the room, seen at `at`.
    pub fn chat(&mut self, message: &ChatMessage, at: u64) {
        if let Some(quoted) = &message.reply_to {
            self.waiting.retain(|w| w.message_id != quoted.id);
        }
        match message.role {
            Role::Seller => {
                self.last_spoke = at;
                self.silence_told = false;
            }
            Role::Viewer if is_question(&message.text) => {
                if self.waiting.len() == MAX_WAITING {
                    self.waiting.pop_front();
                }
                self.waiting.push_back(Waiting {
                    message_id: message.id,
                    asker: message.name.clone(),
                    text: message.text.clone(),
                    asked_at: at,
                    told: false,
                });
            }
            _ => {}
        }
    }

    /// A message was deleted: a deleted question waits no more.
    pub fn deleted(&mut self, message_id: u64) {
        self.waiting.retain(|w| w.message_id != message_id);
    }

    /// The room's viewer count as of `at`.
    pub fn viewers(&mut self, count: u64, at: u64) {
        self.audience.push_back((at, count));
    }

    /// What to tell the trainee now, if anything.
    pub fn tick(&mut self, now: u64) -> Vec<Coaching> {
        let Some(_) = self.live_since.filter(|_| !self.ended) else {
            return Vec::new();
        };
        let mut prompts = Vec::new();
        prompts.extend(self.question_prompt(now));
        prompts.extend(self.drop_prompt(now));
        prompts.extend(self.silence_prompt(now));
        prompts
    }

    fn question_prompt(&mut self, now: u64) -> Option<Coaching> {
        let overdue = |w: &Waiting| now.saturating_sub(w.asked_at) > QUESTION_WAIT_MS;
        if !self.waiting.iter().any(|w| overdue(w) && !w.told) {
            return None;
        }
        if let Some(last) = self.last_question_prompt {
            if now.saturating_sub(last) < QUESTION_PROMPT_GAP_MS {
                return None;
            }
        }
        self.last_question_prompt = Some(now);
        // Every question waiting is mentioned (the oldest by name, the
        // others counted): one asked a moment after the oldest would
        // otherwise wait for the next prompt, 15 s on.
        let oldest = self.waiting.front()?;
        let (asker, text) = (oldest.asker.clone(), oldest.text.clone());
        let waited = now.saturating_sub(oldest.asked_at) / 1000;
        let others = self.waiting.len() - 1;
        for w in &mut self.waiting {
            w.told = true;
        }
        let (more_vi, more_en) = match others {
            0 => (String::new(), String::new()),
            n => (
                format!(" (và {n} câu hỏi khác)"),
                format!(" (and {n} more)"),
            ),
        };
        Some(prompt(
            "question_waiting",
            format!(
                "{asker} hỏi đã {waited} giây chưa được trả lời: “{text}”{more_vi}. \
                 Trả lời bằng nút Trả lời nhé."
            ),
            format!("{asker}'s question has waited {waited} s: “{text}”{more_en}. Reply to it."),
        ))
    }

    fn drop_prompt(&mut self, now: u64) -> Option<Coaching> {
        while self
            .audience
            .front()
            .is_some_and(|(at, _)| now.saturating_sub(*at) > AUDIENCE_WINDOW_MS)
        {
            // The newest sample stays, however old: it is the count now.
            if self.audience.len() > 1 {
                self.audience.pop_front();
            } else {
                break;
            }
        }
        let (_, current) = *self.audience.back()?;
        let peak = self.audience.iter().map(|(_, c)| *c).max()?;
        if peak < MIN_PEAK || current * 100 > peak * (100 - DROP_PERCENT) {
            return None;
        }
        if let Some(last) = self.last_drop_prompt {
            if now.saturating_sub(last) < DROP_PROMPT_GAP_MS {
                return None;
            }
        }
        self.last_drop_prompt = Some(now);
        Some(prompt(
            "viewers_dropping",
            format!(
                "Người xem đang giảm: {peak} → {current} trong phút vừa qua. \
                 Chào khách, hỏi han hoặc mở ưu đãi để giữ chân họ."
            ),
            format!(
                "Viewers are dropping: {peak} → {current} in the last minute. \
                 Greet them, ask them something, or start an offer."
            ),
        ))
    }

    fn silence_prompt(&mut self, now: u64) -> Option<Coaching> {
        if self.silence_told || now.saturating_sub(self.last_spoke) <= SILENCE_MS {
            return None;
        }
        self.silence_told = true;
        let secs = now.saturating_sub(self.last_spoke) / 1000;
        Some(prompt(
            "silent",
            format!(
                "Em chưa nói gì trong khung chat {secs} giây rồi. \
                 Chào khách, giới thiệu sản phẩm hoặc trả lời bình luận nhé."
            ),
            format!(
                "You have written nothing in chat for {secs} s. \
                 Greet your viewers, present a product or answer a comment."
            ),
        ))
    }
}

fn prompt(kind: &str, text: String, text_en: String) -> Coaching {
    Coaching {
        kind: kind.into(),
        text,
        text_en: Some(text_en),
        nudge: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChatQuote;

    fn said(id: u64, role: Role, name: &str, text: &str) -> ChatMessage {
        ChatMessage {
            id,
            user_id: name.into(),
            name: name.into(),
            role,
            text: text.into(),
            sent_at: 0,
            reply_to: None,
        }
    }

    fn answer(id: u64, to: u64) -> ChatMessage {
        ChatMessage {
            reply_to: Some(ChatQuote {
                id: to,
                user_id: "x".into(),
                name: "x".into(),
                text: "x".into(),
            }),
            ..said(id, Role::Seller, "Lan", "Dạ có ạ")
        }
    }

    fn kinds(prompts: &[Coaching]) -> Vec<&str> {
        prompts.iter().map(|p| p.kind.as_str()).collect()
    }

    /// Live at 0; the trainee keeps talking so silence stays out of it.
    fn live() -> Prompter {
        let mut p = Prompter::new();
        p.went_live(0);
        p
    }

    #[test]
    fn nothing_is_prompted_before_going_live_or_after_the_end() {
        let mut p = Prompter::new();
        p.chat(&said(1, Role::Viewer, "Mai", "ship bao lâu?"), 0);
        assert!(p.tick(120_000).is_empty());
        p.went_live(120_000);
        p.ended();
        assert!(p.tick(500_000).is_empty());
    }

    #[test]
    fn a_question_unanswered_for_over_thirty_seconds_is_pointed_out_once() {
        let mut p = live();
        p.chat(
            &said(1, Role::Viewer, "Mai", "Trà này bao nhiêu tiền?"),
            1_000,
        );
        p.chat(&said(2, Role::Viewer, "Tú", "đẹp quá"), 1_000);
        assert!(p.tick(31_000).is_empty(), "30 s exactly is not over 30 s");
        let prompts = p.tick(31_001);
        assert_eq!(kinds(&prompts), ["question_waiting"]);
        assert!(prompts[0].text.contains("Mai"), "{}", prompts[0].text);
        assert!(prompts[0].text.contains("Trà này bao nhiêu tiền?"));
        assert!(!prompts[0].text.contains("câu hỏi khác"));
        p.chat(&said(3, Role::Seller, "Lan", "…"), 40_000);
        assert!(p.tick(50_000).is_empty(), "told already");
    }

    #[test]
    fn an_answered_or_deleted_question_waits_no_more() {
        let mut p = live();
        p.chat(&said(1, Role::Viewer, "Mai", "còn hàng không?"), 0);
        p.chat(&said(2, Role::Viewer, "Tú", "ship Hà Nội không?"), 0);
        p.chat(&answer(3, 1), 10_000);
        p.deleted(2);
        assert!(kinds(&p.tick(40_000))
            .iter()
            .all(|k| *k != "question_waiting"));
    }

    #[test]
    fn fifty_questions_make_one_prompt_naming_the_oldest_and_counting_the_rest() {
        let mut p = live();
        for i in 0..50 {
            let name = format!("Bot {i}");
            p.chat(
                &said(i + 1, Role::Viewer, &name, "ib giá shop ơi"),
                1_000 + i * 10,
            );
        }
        // Asked just before the prompt: counted in it, not prompted again.
        p.chat(&said(100, Role::Viewer, "Bot 50", "giá sao"), 39_000);
        let prompts = p.tick(40_000);
        assert_eq!(kinds(&prompts), ["question_waiting"]);
        assert!(
            prompts[0].text.starts_with("Bot 0 hỏi"),
            "{}",
            prompts[0].text
        );
        assert!(prompts[0].text.contains("(và 50 câu hỏi khác)"));
        assert!(prompts[0]
            .text_en
            .as_ref()
            .unwrap()
            .contains("(and 50 more)"));
        p.chat(&said(101, Role::Seller, "Lan", "Dạ chờ em xíu"), 50_000);
        assert!(p.tick(80_000).is_empty(), "all of them were mentioned");
        // A new question, overdue 5 s after another prompt would be allowed.
        p.chat(&said(102, Role::Viewer, "Bot 51", "ship không?"), 80_000);
        p.chat(&said(103, Role::Seller, "Lan", "…"), 100_000);
        assert!(p.tick(110_000).is_empty(), "30 s exactly");
        let prompts = p.tick(110_001);
        assert_eq!(kinds(&prompts), ["question_waiting"]);
        assert!(
            prompts[0].text.contains("(và 51 câu hỏi khác)"),
            "{}",
            prompts[0].text
        );
    }

    #[test]
    fn a_hosts_question_or_a_viewers_remark_is_not_waited_for() {
        let mut p = live();
        p.chat(&said(1, Role::Moderator, "Mod", "ai hỏi gì không?"), 0);
        p.chat(&said(2, Role::Viewer, "Mai", "trà thơm quá"), 0);
        p.chat(&said(3, Role::Seller, "Lan", "Chào cả nhà"), 50_000);
        assert!(p.tick(59_000).is_empty());
    }

    #[test]
    fn viewers_dropping_thirty_percent_from_the_last_minutes_peak_is_pointed_out() {
        let mut p = live();
        p.viewers(10, 1_000);
        p.viewers(8, 20_000);
        assert!(p.tick(20_000).is_empty(), "20 % down");
        p.viewers(7, 30_000);
        let prompts = p.tick(30_000);
        assert_eq!(kinds(&prompts), ["viewers_dropping"]);
        assert!(prompts[0].text.contains("10 → 7"), "{}", prompts[0].text);
        p.viewers(5, 40_000);
        assert!(p.tick(40_000).is_empty(), "at most once a minute");
        // A minute on, the peak of the window is 5: no longer dropping.
        p.chat(&said(1, Role::Seller, "Lan", "Chào cả nhà"), 99_000);
        p.viewers(5, 100_000);
        assert!(p.tick(100_000).is_empty());
        p.viewers(3, 101_000);
        assert_eq!(kinds(&p.tick(101_000)), ["viewers_dropping"]);
    }

    #[test]
    fn a_tiny_audience_leaving_is_noise() {
        let mut p = live();
        p.viewers(2, 1_000);
        p.viewers(0, 2_000);
        assert!(p.tick(2_000).is_empty());
    }

    #[test]
    fn silence_over_a_minute_is_pointed_out_once_per_silence() {
        let mut p = Prompter::new();
        p.went_live(10_000);
        assert!(p.tick(70_000).is_empty(), "a minute exactly is not over");
        assert_eq!(kinds(&p.tick(70_001)), ["silent"]);
        assert!(p.tick(200_000).is_empty(), "once per silence");
        p.chat(&said(1, Role::Seller, "Lan", "Chào cả nhà"), 200_000);
        assert!(p.tick(260_000).is_empty());
        assert_eq!(kinds(&p.tick(260_001)), ["silent"]);
    }

    #[test]
    fn waiting_questions_are_bounded() {
        let mut p = live();
        for i in 0..(MAX_WAITING as u64 + 10) {
            p.chat(&said(i, Role::Viewer, "Bot", "giá sao"), i);
        }
        assert_eq!(p.waiting.len(), MAX_WAITING);
        assert_eq!(p.waiting.front().unwrap().message_id, 10);
    }
}
