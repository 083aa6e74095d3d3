// Which chat messages are viewers' questions, and which of them still wait
// for an answer. The server counts questions and answers with the same rule
// (docs/metrics.md: `questions`, `questions_answered`, `median_answer_secs`);
// change both together.
//
// A question is a message from a viewer (role `viewer`) whose text contains
// `?` or `？`, or one of the phrases below as a whole word or words (no
// letter or digit right before or after: "ib giá", not "tribe"), compared
// after lower-casing and with Vietnamese diacritics as typed ("sao" is not
// "sáo"). It is answered once any message carries `reply_to` pointing at it.
// (The server also counts as a question any viewer's message someone
// replied to; those are answered already, so the studio never highlights them.)

/** Phrases that make a viewer's message a question (lower case, as typed). */
export const QUESTION_PHRASES = Object.freeze([
  'bao nhiêu', 'bn tiền', 'giá sao', 'ib', 'còn không', 'còn ko', 'có không',
  'được không', 'ship', 'khi nào', 'ở đâu', 'sao',
]);

/** How long a question may wait before the studio highlights it. */
export const UNANSWERED_AFTER_MS = 60_000;

/** A letter or digit, as Rust's `char::is_alphanumeric` (Alphabetic or Numeric). */
const WORD_CHAR = /[\p{Alphabetic}\p{N}]/u;

/** `phrase` in `text` with no letter or digit right before or after it. */
function containsWords(text, phrase) {
  for (let at = text.indexOf(phrase); at !== -1; at = text.indexOf(phrase, at + phrase.length)) {
    const before = [...text.slice(0, at)].pop();
    const after = [...text.slice(at + phrase.length)][0];
    if (!(before && WORD_CHAR.test(before)) && !(after && WORD_CHAR.test(after))) return true;
  }
  return false;
}

/** Whether a chat message (`{role, text}`) is a viewer's question. */
export function isQuestion(message) {
  if (message?.role !== 'viewer' || typeof message.text !== 'string') return false;
  if (message.text.includes('?') || message.text.includes('？')) return true;
  const text = message.text.toLowerCase();
  return QUESTION_PHRASES.some((phrase) => containsWords(text, phrase));
}

/**
 * The room's questions as the studio has seen them (its recent chat):
 * `observe` every message in order, `forget` a deleted one, `reset` on a
 * fresh snapshot.
 */
export class QuestionTracker {
  constructor() {
    /** Question id → its message, oldest first. */
    this.questions = new Map();
    /** Ids of messages some reply points at (even ones seen before the question). */
    this.answered = new Set();
  }

  reset(messages = []) {
    this.questions.clear();
    this.answered.clear();
    for (const message of messages) this.observe(message);
  }

  observe(message) {
    const target = message?.reply_to?.id;
    if (target !== undefined && target !== null) this.answered.add(Number(target));
    if (isQuestion(message)) this.questions.set(Number(message.id), message);
  }

  forget(messageId) {
    this.questions.delete(Number(messageId));
  }

  isQuestion(messageId) {
    return this.questions.has(Number(messageId));
  }

  isAnswered(messageId) {
    return this.answered.has(Number(messageId));
  }

  /** Questions without an answer sent more than `afterMs` before `now`. */
  unanswered(now = Date.now(), afterMs = UNANSWERED_AFTER_MS) {
    const waiting = [];
    for (const [id, message] of this.questions) {
      if (!this.answered.has(id) && now - message.sent_at >= afterMs) waiting.push(message);
    }
    return waiting;
  }
}
