//! Carrying out scenarios: a firing is journaled (`scenario_fired`) and its
//! steps are scheduled at lesson seconds; each second the due ones run.

use rand::Rng;

use crate::clock::unix_millis;
use crate::journal::Record;
use crate::protocol::DirectEvent;
use crate::sale::BuyOutcome;

use super::super::bot::choose;
use super::super::{Fired, Outcome};
use super::{Driver, Due, MAX_BUY_OUT};
use crate::practice::scenario::{FireHow, Step};

impl Driver {
    /// Journal the firing and schedule the scenario's steps.
    pub(super) fn fire(&mut self, scenario_id: &str, how: FireHow) {
        let Some(scenario) = self.library.get(scenario_id) else {
            return;
        };
        let record = Record::ScenarioFired {
            scenario_id: scenario.id.clone(),
            title: scenario.title.clone(),
            how: how.as_str().to_owned(),
        };
        self.door
            .journal()
            .record(&self.room_id, unix_millis(), record);
        self.status.lock().fired.push(Fired {
            at_secs: self.now,
            scenario_id: scenario.id.clone(),
            how,
        });
        for step in scenario.steps {
            let at = self.now + u64::from(step.at_secs());
            if let Step::Flood {
                persona,
                texts,
                count,
                over_secs,
                ..
            } = &step
            {
                for i in 0..u64::from(*count) {
                    let when = at + i * u64::from(*over_secs) / u64::from((*count).max(1));
                    let text = choose(texts, self.rng.random::<f64>());
                    let line = Due::Line {
                        text,
                        persona: persona.clone(),
                    };
                    self.due.entry(when).or_default().push(line);
                }
            } else {
                self.due
                    .entry(at)
                    .or_default()
                    .push(Due::Step(scenario.id.clone(), step));
            }
        }
    }

    pub(super) async fn carry_out(&mut self, due: Due) {
        match due {
            Due::Line { text, persona } => {
                let speaker = match persona.as_deref().and_then(|p| self.personas.index_of(p)) {
                    Some(persona) => self.join(persona).await.ok(),
                    None if self.present.len() > 1 => {
                        Some(self.rng.random_range(1..self.present.len()))
                    }
                    None => {
                        let persona = self.draw_persona();
                        self.join(persona).await.ok()
                    }
                };
                if let Some(index) = speaker {
                    self.present[index].bot.greeted = true;
                    self.chat(index, text).await;
                }
            }
            Due::Step(scenario_id, step) => self.step(&scenario_id, step).await,
        }
    }

    pub(super) async fn step(&mut self, scenario_id: &str, step: Step) {
        match step {
            Step::Spike {
                factor, hold_secs, ..
            } => self.curve.spike(factor, self.now + u64::from(hold_secs)),
            Step::Say {
                persona,
                name,
                texts,
                every_secs,
                ..
            } => {
                let Some(persona) = self.personas.index_of(&persona) else {
                    return;
                };
                let Ok(index) = self.join(persona).await else {
                    return;
                };
                let bot = &mut self.present[index].bot;
                bot.stays = true;
                bot.greeted = true;
                bot.interest = 0.6;
                if let Some(name) = name {
                    // The scenario's name for it; the actor carries it.
                    self.present[index].actor.name = name.clone();
                    self.present[index].bot.name = name;
                }
                let every = u64::from(every_secs);
                let script = texts
                    .into_iter()
                    .enumerate()
                    .map(|(i, text)| (self.now + i as u64 * every, text))
                    .collect();
                self.present[index].bot.script = script;
            }
            Step::Flood { .. } => {}
            Step::BuyOut { .. } => self.buy_out().await,
            Step::Warn { text, .. } => {
                let event = DirectEvent::PlatformWarning {
                    scenario_id: scenario_id.to_owned(),
                    text,
                };
                self.door.tell_hosts(&self.room_id, &event);
            }
            Step::Leave { fraction, .. } => {
                let mut leaving = Vec::new();
                for (index, present) in self.present.iter().enumerate() {
                    if !present.bot.stays && self.rng.random::<f64>() < fraction {
                        leaving.push(index);
                    }
                }
                for index in leaving.into_iter().rev() {
                    let present = self.present.remove(index);
                    self.leave(present);
                }
            }
        }
    }

    /// Buy the live sale until it is sold out: new impatient buyers join and
    /// take their limit each, through the same buy and confirm as anyone.
    pub(super) async fn buy_out(&mut self) {
        let Some((sale, limit)) = self.stage.sale.clone() else {
            tracing::debug!(room = %self.room_id, "buy_out: no live sale");
            return;
        };
        let buyer = self
            .personas
            .index_of("chot_don")
            .unwrap_or_else(|| self.draw_persona());
        for _ in 0..MAX_BUY_OUT {
            let Ok(index) = self.join(buyer).await else {
                return;
            };
            self.present[index].bot.greeted = true;
            self.present[index].bot.tried_sale = Some(sale.id.clone());
            match self.buy(index, &sale.id, limit).await {
                // Fewer left than the limit: take one at a time.
                Outcome::NotReserved(BuyOutcome::SoldOut) if limit > 1 => {
                    if self.buy(index, &sale.id, 1).await != Outcome::Done {
                        return;
                    }
                }
                Outcome::Done => {}
                _ => return,
            }
        }
    }
}
