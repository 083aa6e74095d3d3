// The coach view's lesson panel: the simulated audience (started here with
// the class's lesson when none runs yet, polled while it runs: bots present,
// interest, lesson clock, scenarios fired) and the scenario library with a
// "fire" button each. Only the room's trainer (its coach token) or an admin
// may do any of it; the server says so if not.

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { formatCount } from './format.js';
import { audienceOf, fireScenario, listScenarios, startAudience } from './practice-api.js';

/** How often the audience's state is read while the page is open. */
const POLL_MS = 3000;

export class CoachLesson {
  /**
   * `lesson`: the class's lesson (`{seed, audience_size, speed, timeline}`,
   * from the coach link), used to start the audience; `notice`: a Notice.
   */
  constructor({ token, roomId, lesson, notice, hook }) {
    this.token = token;
    this.roomId = roomId;
    // A lesson without bots (`audience_size: 0`) may still get some by hand: the default 30.
    this.lesson = { ...lesson, audience_size: lesson.audience_size || 30 };
    this.notice = notice;
    this.hook = hook;
    this.audience = undefined;
    this.scenarios = [];
    $('#audience-start').addEventListener('click', () => this.start());
    this.poll();
    listScenarios(token).then((list) => {
      this.scenarios = list;
      this.renderScenarios();
    }, () => this.renderScenarios());
  }

  async poll() {
    clearTimeout(this.timer);
    try {
      this.audience = await audienceOf(this.token, this.roomId);
      this.hook.audience = this.audience;
      this.renderAudience();
    } catch {
      // A refusal or a dropped request: try again at the next poll.
    }
    // An ended room's audience has gone with it: nothing more to read.
    if (this.hook.model?.room?.status !== 'ended') this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  async start() {
    const button = $('#audience-start');
    button.disabled = true;
    try {
      this.audience = await startAudience(this.token, this.roomId, this.lesson);
      this.notice.show(t('coach.audienceStarted', { n: this.lesson.audience_size }), 'ok', 3000);
      this.renderAudience();
    } catch (error) {
      this.notice.show(error.code === 'invalid_value' && error.message ? `${errorText(error)} ${error.message}` : errorText(error), 'error');
    } finally {
      button.disabled = false;
    }
  }

  async fire(scenario) {
    try {
      await fireScenario(this.token, this.roomId, scenario.id);
      this.notice.show(t('coach.fired', { title: scenario.title }), 'ok', 4000);
      this.poll();
    } catch (error) {
      this.notice.show(error.code === 'invalid_state' ? t('coach.needAudience') : errorText(error), 'error');
    }
  }

  render() {
    this.renderAudience();
    this.renderScenarios();
  }

  renderAudience() {
    const a = this.audience;
    const ended = this.hook.model?.room?.status === 'ended';
    $('#audience-start').hidden = Boolean(a) || this.audience === undefined || ended;
    $('#audience-start').textContent = t('coach.audienceStart', { n: this.lesson.audience_size });
    const box = clear($('#audience-now'));
    if (!a) {
      box.append(h('p', { class: 'muted small', text: t('coach.noAudience') }));
      return;
    }
    box.append(h('p', { class: 'small', 'data-testid': 'audience-summary', text: t('coach.audienceNow', {
      bots: formatCount(a.bots_present), size: formatCount(a.size), interest: Math.round((a.interest || 0) * 100),
      secs: formatCount(a.lesson_secs), seed: a.seed,
    }) }));
    if (a.fired?.length) {
      box.append(h('ul', { class: 'small', 'data-testid': 'fired-list' }, a.fired.map((f) => h('li', {
        text: t('coach.firedAt', { secs: f.at_secs, title: this.title(f.scenario_id), how: t(`coach.how.${f.how}`) }),
      }))));
    }
  }

  title(id) {
    return this.scenarios.find((s) => s.id === id)?.title || id;
  }

  renderScenarios() {
    const list = clear($('#scenario-list'));
    $('#scenario-empty').hidden = this.scenarios.length > 0;
    for (const s of this.scenarios) {
      list.append(h('li', { 'data-testid': 'scenario', 'data-scenario': s.id },
        h('div', {}, h('strong', { text: s.title }), s.description ? h('p', { class: 'small muted', text: s.description }) : null),
        h('button', {
          type: 'button', class: 'btn btn-small btn-buy', 'data-testid': 'scenario-fire',
          'aria-label': t('coach.fireLabel', { title: s.title }), text: t('coach.fire'),
          onclick: () => this.fire(s),
        })));
    }
  }
}

/** The class's lesson from the coach link (`?lesson=` JSON), or the defaults. */
export function lessonFromUrl() {
  const fallback = { seed: 0, audience_size: 30, speed: 1, timeline: [] };
  try {
    const raw = new URLSearchParams(location.search).get('lesson');
    return raw ? { ...fallback, ...JSON.parse(raw) } : fallback;
  } catch {
    return fallback;
  }
}
