// The class's scorecard weights on the trainer page: one form for every
// room of the class and every later attempt (`PUT /api/classes/{id}/weights`,
// docs/practice.md "Scorecard"). The sum is shown as she types; the server
// refuses anything but six whole numbers 0–100 adding up to 100.

import { $, clear, h } from './dom.js';
import { errorText, t } from './i18n.js';
import { putClassWeights } from './practice-api.js';

/** The scorecard's parts, in the order the scorecard lists them. */
export const PARTS = ['interaction', 'selling', 'scenarios', 'compliance', 'presentation', 'product_knowledge'];

/**
 * Draw the weights form for `klass` into `#class-weights-form`; `onSaved(klass)`
 * gets the class as the server answers after a save.
 */
export function renderClassWeights(token, klass, notice, onSaved) {
  const form = clear($('#class-weights-form'));
  const weights = klass.weights || {};
  const sum = h('p', { class: 'small', 'data-testid': 'class-weights-sum', role: 'status', 'aria-live': 'polite' });
  const inputs = PARTS.map((part) => h('input', {
    id: `class-weight-${part}`, name: part, type: 'number', inputmode: 'numeric', min: 0, max: 100, step: 1,
    value: weights[part] ?? 0, required: true, 'data-testid': `class-weight-${part}`,
  }));
  const showSum = () => {
    const total = inputs.reduce((s, input) => s + (Number(input.value) || 0), 0);
    sum.textContent = t('trainer.weightsSum', { n: total });
    sum.dataset.kind = total === 100 ? 'ok' : 'error';
  };
  PARTS.forEach((part, i) => {
    inputs[i].addEventListener('input', showSum);
    form.append(h('div', { class: 'field' },
      h('label', { for: inputs[i].id, text: t(`trainer.weight.${part}`) }), inputs[i]));
  });
  const save = h('button', { type: 'submit', class: 'btn btn-small', 'data-testid': 'class-weights-save', text: t('trainer.weightsSave') });
  form.append(sum, save);
  showSum();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(PARTS.map((part, i) => [part, Number(inputs[i].value)]));
    save.disabled = true;
    try {
      const saved = await putClassWeights(token, klass.id, body);
      notice.show(t('trainer.weightsSaved'), 'ok', 4000);
      onSaved(saved);
    } catch (error) {
      notice.show(error.code === 'invalid_value' ? t('score.weightsSum') : errorText(error), 'error', 0);
    } finally {
      save.disabled = false;
    }
  };
}
