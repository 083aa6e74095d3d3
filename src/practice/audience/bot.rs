//! One simulated viewer and its decisions: what it does in a lesson second,
//! given its persona, its interest and what it has seen of the room.
//!
//! Decisions are pure: the same bot, scene and random draws give the same
//! acts. All randomness comes from the audience's seeded generator, drawn
//! in a fixed order, so a lesson replays identically from its seed.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::persona::Persona;

/// A bot's state between lesson seconds.
#[derive(Debug, Clone)]
pub struct Bot {
    /// `bot-<room>-<n>`: unique in the room, stable for a seed.
    pub user_id: String,
    pub name: String,
    /// Index into the audience's persona book.
    pub persona: usize,
    /// 0–1: how engaged the bot is. Answers, pins and sales raise it;
    /// waiting and silence lower it. Scales every rate, and at 0 it leaves.
    pub interest: f64,
    /// The lesson second its unanswered question was asked.
    pub waiting_since: Option<u64>,
    /// Complained about the current wait already (once per question).
    pub complained: bool,
    /// The trainee answered it: say a follow-up next second.
    pub answered: bool,
    /// Greeted the room yet.
    pub greeted: bool,
    /// The sale it already tried to buy in (one try per sale).
    pub tried_sale: Option<String>,
    /// Scenario lines still to say, one per `every_secs`: (due second, text).
    pub script: Vec<(u64, String)>,
    /// Never leaves on its own (the audience's anchor, a scenario's actor).
    pub stays: bool,
}

/// What the room looks like to the bots this second.
#[derive(Debug, Clone, Default)]
pub struct Scene {
    /// The lesson second.
    pub now: u64,
    /// Catalog product ids and names, in catalog order.
    pub products: Vec<(String, String, u64)>,
    /// The pinned product's id and name.
    pub pinned: Option<(String, String)>,
    /// The live flash sale: id, product name, discount (0–1).
    pub sale: Option<LiveSale>,
    /// Lesson seconds since the trainee last said anything in chat.
    pub seller_silent_secs: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveSale {
    pub id: String,
    pub product_name: String,
    /// 1 − sale price ÷ catalog price, clamped to 0–1.
    pub discount: f64,
}

/// What a bot does.
#[derive(Debug, Clone, PartialEq)]
pub enum Act {
    /// A chat message; `question` ones wait for an answer.
    Say {
        text: String,
        question: bool,
    },
    Hearts(u32),
    ViewProduct(String),
    AddToBag(String),
    /// Try to buy one unit in the sale.
    Buy(String),
    Leave,
}

impl Bot {
    pub fn new(user_id: String, name: String, persona: usize, interest: f64) -> Bot {
        Bot {
            user_id,
            name,
            persona,
            interest,
            waiting_since: None,
            complained: false,
            answered: false,
            greeted: false,
            tried_sale: None,
            script: Vec::new(),
            stays: false,
        }
    }

    /// The trainee replied to this bot at lesson second `now`: the sooner
    /// after its question, the more its interest (and so its buying) grows.
    pub fn on_answer(&mut self, now: u64) {
        let waited = self
            .waiting_since
            .map_or(0, |since| now.saturating_sub(since));
        self.waiting_since = None;
        self.complained = false;
        self.answered = true;
        self.raise((0.3 - 0.004 * waited as f64).max(0.08));
    }

    /// Something worth watching happened (a pin, a sale).
    pub fn raise(&mut self, by: f64) {
        self.interest = (self.interest + by).min(1.0);
    }

    fn lower(&mut self, by: f64) {
        self.interest = (self.interest - by).max(0.0);
    }

    /// This second's acts. Draws from `rng` in a fixed order whatever the
    /// outcome, so one bot's choices never shift another's draws.
    pub fn decide(&mut self, persona: &Persona, scene: &Scene, rng: &mut ChaCha8Rng) -> Vec<Act> {
        let [chat, heart, view, buy, pick, leave] = [(); 6].map(|_| rng.random::<f64>());
        let mut acts = Vec::new();
        let phrases = &persona.phrases;
        let product = scene
            .pinned
            .as_ref()
            .map(|(_, name)| name.as_str())
            .or(scene.sale.as_ref().map(|s| s.product_name.as_str()))
            .unwrap_or("sản phẩm này");
        let say = |pool: &[String], question: bool| Act::Say {
            text: choose(pool, pick).replace("{product}", product),
            question,
        };

        // A scenario's lines come first, on their schedule.
        if let Some(index) = self.script.iter().position(|(due, _)| *due <= scene.now) {
            let (_, text) = self.script.remove(index);
            acts.push(Act::Say {
                text,
                question: true,
            });
            self.waiting_since.get_or_insert(scene.now);
            return acts;
        }
        // Waiting drains interest; past patience, a complaint (once).
        if let Some(since) = self.waiting_since {
            self.lower(0.01);
            if scene.now.saturating_sub(since) >= u64::from(persona.patience_secs)
                && !self.complained
            {
                self.complained = true;
                self.lower(0.2);
                acts.push(say(&phrases.complaint, false));
                return acts;
            }
        }
        // A silent seller bores everyone slowly.
        if scene.seller_silent_secs > 30 {
            self.lower(0.004);
        }
        if self.answered {
            self.answered = false;
            acts.push(say(&phrases.follow_up, false));
            return acts;
        }
        if !self.greeted {
            self.greeted = true;
            if chat < 0.5 {
                acts.push(say(&phrases.greeting, false));
            }
            return acts;
        }
        let rate = |per_min: f64| per_min / 60.0 * (0.3 + 0.7 * self.interest);
        if chat < rate(persona.chat_per_min) {
            let asks = self.waiting_since.is_none() && pick < 0.6;
            let pool = if asks {
                &phrases.question
            } else if scene.sale.is_some() {
                &phrases.on_sale
            } else if scene.pinned.is_some() {
                &phrases.on_pin
            } else {
                &phrases.thanks
            };
            if asks {
                self.waiting_since = Some(scene.now);
            }
            acts.push(say(pool, asks));
        }
        if heart < rate(persona.hearts_per_min) {
            acts.push(Act::Hearts(1 + (pick * 3.0) as u32));
        }
        if view < 0.02 + 0.05 * self.interest {
            let product = match &scene.pinned {
                Some((id, _)) => Some(id.clone()),
                None if !scene.products.is_empty() => {
                    let index = (pick * scene.products.len() as f64) as usize;
                    scene
                        .products
                        .get(index.min(scene.products.len() - 1))
                        .map(|p| p.0.clone())
                }
                None => None,
            };
            if let Some(product) = product {
                // Interested buyers put a pinned product in the bag.
                if scene.pinned.is_some() && buy < persona.buying_propensity * self.interest * 0.2 {
                    acts.push(Act::AddToBag(product.clone()));
                }
                acts.push(Act::ViewProduct(product));
            }
        }
        if let Some(sale) = &scene.sale {
            if self.tried_sale.as_deref() != Some(sale.id.as_str()) {
                let pull = persona.buying_propensity
                    * (0.3 + self.interest * 0.7)
                    * (0.4 + sale.discount * persona.price_sensitivity * 1.5).min(1.0);
                // Spread over the sale's first seconds, not all at once.
                if buy < pull * 0.25 {
                    self.tried_sale = Some(sale.id.clone());
                    acts.push(Act::Buy(sale.id.clone()));
                }
            }
        }
        if !self.stays && self.interest < 0.15 && leave < 0.1 {
            acts.push(Act::Leave);
        }
        acts
    }
}

/// The item of `pool` at the fraction `at` (0–1).
pub fn choose(pool: &[String], at: f64) -> String {
    if pool.is_empty() {
        return String::new();
    }
    let index = ((at * pool.len() as f64) as usize).min(pool.len() - 1);
    pool[index].clone()
}

#[cfg(test)]
mod tests {
    use super::super::persona::PersonaBook;
    use super::*;
    use rand::SeedableRng;

    fn lesson(seed: u64) -> Vec<Act> {
        let book = PersonaBook::builtin();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut bot = Bot::new("bot-1".into(), "Thu Trang".into(), 0, 0.6);
        let scene = Scene::default();
        (0..300)
            .flat_map(|now| {
                let scene = Scene {
                    now,
                    ..scene.clone()
                };
                bot.decide(book.get(0), &scene, &mut rng)
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_acts_and_another_seed_others() {
        assert_eq!(lesson(7), lesson(7));
        assert_ne!(lesson(7), lesson(8));
    }

    #[test]
    fn an_unanswered_question_ends_in_one_complaint() {
        let book = PersonaBook::builtin();
        let persona = book.get(book.index_of("hoi_thuc_te").unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut bot = Bot::new("bot-1".into(), "Lan Anh".into(), 0, 0.8);
        bot.greeted = true;
        bot.waiting_since = Some(0);
        let said: Vec<Act> = (0..200)
            .flat_map(|now| {
                let scene = Scene {
                    now,
                    ..Scene::default()
                };
                bot.decide(persona, &scene, &mut rng)
            })
            .collect();
        let complaints = said
            .iter()
            .filter(
                |a| matches!(a, Act::Say { text, .. } if persona.phrases.complaint.contains(text)),
            )
            .count();
        assert_eq!(complaints, 1);
    }

    #[test]
    fn a_quick_answer_raises_interest_more_than_a_slow_one() {
        let asked = |interest| {
            let mut bot = Bot::new("bot-1".into(), "Lan Anh".into(), 0, interest);
            bot.waiting_since = Some(10);
            bot
        };
        let (mut quick, mut slow) = (asked(0.4), asked(0.4));
        quick.on_answer(15);
        slow.on_answer(70);
        assert!(
            quick.interest > slow.interest + 0.1,
            "{} {}",
            quick.interest,
            slow.interest
        );
    }

    #[test]
    fn an_answer_gets_a_follow_up_from_the_persona() {
        let book = PersonaBook::builtin();
        let persona = book.get(0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut bot = Bot::new("bot-1".into(), "Thu Trang".into(), 0, 0.5);
        bot.greeted = true;
        bot.waiting_since = Some(0);
        bot.on_answer(3);
        let acts = bot.decide(
            persona,
            &Scene {
                now: 3,
                ..Scene::default()
            },
            &mut rng,
        );
        assert!(
            matches!(&acts[0], Act::Say { text, question: false } if persona.phrases.follow_up.contains(text))
        );
        assert!(bot.waiting_since.is_none());
    }
}
