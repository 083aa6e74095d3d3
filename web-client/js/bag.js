/**
 * The viewer's shopping bag, without any drawing: her open bag holds (one
 * line each: a product, its quantity, the price it was reserved at and its
 * deadline) and the four things she does with them over the room
 * connection — `add_to_bag`, `cancel_hold` (take a line out),
 * `checkout_bag` (every open line as one order) — and what the server tells
 * her back: `my_holds` after a (re)join brings the bag back, `hold_cancelled`
 * and a bag `order_confirmed` take lines out, and a line past its deadline
 * leaves by itself.
 *
 * The server decides everything (stock, limits, deadlines). An add keeps
 * its idempotency key until the server has answered definitely, so a retry
 * after `unavailable` or a dropped connection never reserves twice.
 * `onChange(fn)` tells the page when to redraw.
 */

import { randomId } from './dom.js';
import { BAG_SALE_ID } from './order-card.js';

/** The most lines one `checkout_bag` takes (docs/protocol.md). */
export const MAX_LINES = 20;

/** Pauses before asking again, same key, after an `unavailable` answer. */
const RETRY_DELAYS_MS = [400, 1200];

/** Request failures that leave an add's outcome unknown (the key is kept). */
const UNKNOWN = new Set(['disconnected', 'timeout', 'not_connected', 'unavailable']);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms * (1 + Math.random() * 0.25)));
}

/** A bag hold (`sale_id: "bag"`), as `my_holds` and `bag_result` give them. */
export function isBagHold(hold) {
  return hold?.sale_id === BAG_SALE_ID;
}

export class Bag {
  /** @param {import('./protocol.js').RoomConnection} conn */
  constructor(conn) {
    this.conn = conn;
    /** hold_id → hold: `{hold_id, product_id, quantity, unit_price_vnd, expires_at}`. */
    this.holds = new Map();
    /** product_id → the idempotency key of an add whose outcome is unknown. */
    this.pendingKeys = new Map();
    /** product ids with an add on its way. */
    this.adding = new Set();
    this.listeners = [];
    conn.on('my_holds', (m) => this.restore(m.holds));
    conn.on('hold_cancelled', (m) => this.drop([m.hold_id]));
    conn.on('order_confirmed', (m) => {
      if (m.order?.sale_id === BAG_SALE_ID) this.drop((m.order.lines || []).map((line) => line.hold_id).concat(m.order.hold_id));
    });
  }

  /** Call `fn(reason)` after every change ('restore', 'add', 'adding', 'drop'). */
  onChange(fn) {
    this.listeners.push(fn);
  }

  emit(reason) {
    for (const fn of this.listeners) {
      try {
        fn(reason);
      } catch (error) {
        console.error('a bag listener failed', error);
      }
    }
  }

  /** The open lines, soonest deadline first. */
  lines() {
    return [...this.holds.values()].sort((a, b) => a.expires_at - b.expires_at || a.hold_id.localeCompare(b.hold_id));
  }

  /** Units in the bag (each line's quantity). */
  units() {
    let n = 0;
    for (const hold of this.holds.values()) n += hold.quantity;
    return n;
  }

  /** What the lines cost at the prices they were reserved at. */
  subtotal() {
    let total = 0;
    for (const hold of this.holds.values()) total += hold.quantity * (hold.unit_price_vnd || 0);
    return total;
  }

  /** After (re)joining: the server's list of her open holds is the bag. */
  restore(holds) {
    const now = Date.now();
    this.holds = new Map((holds || []).filter((hold) => isBagHold(hold) && hold.expires_at > now).map((hold) => [hold.hold_id, hold]));
    this.emit('restore');
  }

  put(hold) {
    this.holds.set(hold.hold_id, hold);
    this.emit('add');
  }

  /** Take lines out (removed, ordered, expired); the ones that were here. */
  drop(holdIds) {
    const gone = [];
    for (const id of holdIds) {
      const hold = this.holds.get(id);
      if (hold) {
        this.holds.delete(id);
        gone.push(hold);
      }
    }
    if (gone.length > 0) this.emit('drop');
    return gone;
  }

  /** Lines whose deadline has passed leave the bag; the ones that left. */
  expireDue(now = Date.now()) {
    return this.drop(this.lines().filter((hold) => hold.expires_at <= now).map((hold) => hold.hold_id));
  }

  /**
   * Put `quantity` of a product in the bag. Resolves with
   * `{outcome}` — the server's (`reserved`, `duplicate`, `sold_out`,
   * `limit_reached`, `unavailable`), `busy` when an add of it is on its
   * way, `full` at MAX_LINES, or `error` with the server's `error` — never
   * rejects.
   */
  async add(productId, quantity = 1) {
    if (this.adding.has(productId)) return { outcome: 'busy' };
    if (this.holds.size >= MAX_LINES) return { outcome: 'full' };
    this.adding.add(productId);
    this.emit('adding');
    const key = this.pendingKeys.get(productId) || randomId();
    this.pendingKeys.set(productId, key);
    try {
      for (let attempt = 0; ; attempt += 1) {
        const result = await this.conn.request({ type: 'add_to_bag', product_id: productId, quantity, idempotency_key: key });
        // `unavailable`: the store did not answer; the same key is safe.
        if (result.outcome === 'unavailable' && attempt < RETRY_DELAYS_MS.length) {
          await sleep(RETRY_DELAYS_MS[attempt]);
          continue;
        }
        if (result.outcome !== 'unavailable') this.pendingKeys.delete(productId);
        if (result.hold && (result.outcome === 'reserved' || result.outcome === 'duplicate')) this.put(result.hold);
        return { outcome: result.outcome };
      }
    } catch (error) {
      if (!UNKNOWN.has(error.code)) this.pendingKeys.delete(productId);
      return { outcome: 'error', error };
    } finally {
      this.adding.delete(productId);
      this.emit('adding');
    }
  }

  /** Take a line out of the bag (`cancel_hold`); rejects with the server's error. */
  async remove(holdId) {
    await this.conn.request({ type: 'cancel_hold', hold_id: holdId });
    this.drop([holdId]);
  }

  /**
   * Check every open line out as one order (`checkout_bag`); resolves with
   * the order. On `hold_expired` (the server does not say which line) the
   * lines past their deadline leave the bag — at least the one with the
   * soonest deadline, which is past the server's if any line is — and the
   * error carries them as `expired`, so she can check the rest out again.
   */
  async checkout({ shipping, payment, voucherCode }) {
    const ids = this.lines().map((hold) => hold.hold_id);
    const request = { type: 'checkout_bag', hold_ids: ids, shipping, payment };
    if (voucherCode) request.voucher_code = voucherCode;
    try {
      const reply = await this.conn.request(request);
      return reply.order;
    } catch (error) {
      if (error.code === 'hold_expired') {
        const due = this.lines().filter((hold) => ids.includes(hold.hold_id));
        const late = due.filter((hold) => hold.expires_at <= Date.now());
        error.expired = this.drop((late.length > 0 ? late : due.slice(0, 1)).map((hold) => hold.hold_id));
      }
      throw error;
    }
  }
}
