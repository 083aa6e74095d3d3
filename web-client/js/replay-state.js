// What a replay shows at a moment: the recording's segments on one clock,
// and the room (chat, hearts, pinned product, flash sale) folded from the
// session's timeline up to that moment. Pure data, no DOM: replay.js draws it.
//
// Times: each recording segment covers wall time `started_at` … `started_at +
// duration_ms`; video time t of segment i is wall time `started_at + t·1000`.
// The bar under the video lays the segments end to end (gaps between them,
// when the seller paused the stream, are left out).

const MAX_CHAT = 200;

/** Segments in order with their place on the bar: `{…recording, offsetMs, durationMs}`. */
export function layoutSegments(recordings) {
  let offset = 0;
  return [...recordings]
    .sort((a, b) => a.started_at - b.started_at)
    .map((r) => {
      const durationMs = Math.max(0, Number(r.duration_ms) || ((r.ended_at ?? r.started_at) - r.started_at) || 0);
      const segment = { ...r, offsetMs: offset, durationMs };
      offset += durationMs;
      return segment;
    });
}

/** Total length of the laid-out segments. */
export function totalMs(segments) {
  const last = segments[segments.length - 1];
  return last ? last.offsetMs + last.durationMs : 0;
}

/**
 * Where wall time `at` falls: `{index, seconds}` (segment and video time), a
 * moment between two segments snapping to the start of the next one; null
 * when it is after the last.
 */
export function locate(segments, at) {
  for (let i = 0; i < segments.length; i += 1) {
    const s = segments[i];
    if (at < s.started_at) return { index: i, seconds: 0 };
    if (at <= s.started_at + s.durationMs) return { index: i, seconds: (at - s.started_at) / 1000 };
  }
  return null;
}

/** Bar position (ms from the first segment's start, gaps left out) of wall time `at`. */
export function barPosition(segments, at) {
  const spot = locate(segments, at);
  if (!spot) return totalMs(segments);
  return segments[spot.index].offsetMs + spot.seconds * 1000;
}

/** The segment and video time at bar position `ms`. */
export function fromBar(segments, ms) {
  for (let i = 0; i < segments.length; i += 1) {
    const s = segments[i];
    if (ms < s.offsetMs + s.durationMs || i === segments.length - 1) {
      return { index: i, seconds: Math.max(0, Math.min(s.durationMs, ms - s.offsetMs)) / 1000 };
    }
  }
  return { index: 0, seconds: 0 };
}

export function emptyState() {
  return { chat: [], heartsTotal: 0, lastHearts: 0, pinned: null, note: null, sale: null, streamLive: false };
}

/**
 * Fold timeline `entry` into `state`; returns the parts that changed
 * ('chat' — redraw, 'chat-append', 'chat-delete', 'hearts', 'pinned', 'note', 'sale', 'stream').
 */
export function applyEntry(state, entry, changed = new Set()) {
  switch (entry.type) {
    case 'chat':
      if (!entry.message) break;
      state.chat.push(entry.message);
      if (state.chat.length > MAX_CHAT) state.chat.splice(0, state.chat.length - MAX_CHAT);
      state.lastChat = entry.message;
      changed.add('chat-append');
      break;
    case 'message_deleted':
      state.chat = state.chat.filter((m) => m.id !== entry.message_id);
      state.lastDeleted = entry.message_id;
      changed.add('chat-delete');
      break;
    case 'hearts':
      state.heartsTotal += Number(entry.count) || 0;
      state.lastHearts = Number(entry.count) || 0;
      changed.add('hearts');
      break;
    case 'product_pinned':
      state.pinned = entry.product || null;
      changed.add('pinned');
      break;
    case 'product_unpinned':
      state.pinned = null;
      changed.add('pinned');
      break;
    case 'note_pinned':
      state.note = entry.note || null;
      changed.add('note');
      break;
    case 'note_unpinned':
      state.note = null;
      changed.add('note');
      break;
    case 'sale_updated':
      state.sale = entry.sale || null;
      changed.add('sale');
      break;
    case 'stream_state':
      state.streamLive = Boolean(entry.live);
      changed.add('stream');
      break;
    default:
      break;
  }
  return changed;
}

/**
 * Keeps the room's state in step with a moving wall time: forward moves
 * apply only the new entries; a move back (a seek) folds again from the start.
 */
export class ReplayState {
  constructor(entries) {
    this.entries = [...entries].sort((a, b) => a.at - b.at);
    this.reset();
  }

  reset() {
    this.state = emptyState();
    this.next = 0;
    this.at = -Infinity;
  }

  /** Move to wall time `at`; returns what changed (`chat` means: draw the chat afresh). */
  seek(at, { rebuild = false } = {}) {
    const changed = new Set();
    if (rebuild || at < this.at) {
      this.reset();
      ['chat', 'hearts', 'pinned', 'note', 'sale', 'stream'].forEach((p) => changed.add(p));
    }
    const from = this.next;
    while (this.next < this.entries.length && this.entries[this.next].at <= at) {
      applyEntry(this.state, this.entries[this.next], changed);
      this.next += 1;
    }
    // Many new entries at once (a jump forward): cheaper to draw afresh.
    if (this.next - from > 20) changed.add('chat');
    if (changed.has('chat')) {
      changed.delete('chat-append');
      changed.delete('chat-delete');
    }
    this.at = at;
    return changed;
  }

  /** Entries that happened since the previous `seek` (for appending chat lines). */
  appended(fromIndex) {
    return this.entries.slice(fromIndex, this.next).filter((e) => e.type === 'chat');
  }
}
