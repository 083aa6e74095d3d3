// The HTTP calls of the trainer's pages (trainer, coach, scorecard) and the
// token they carry. A page's token comes in the URL fragment (`#token=…`,
// never sent to servers or in referrers) and is kept for the tab in
// sessionStorage under `key`, so a reload keeps working after the fragment
// is gone. Every answer and refusal is docs/protocol.md's "Practice classes
// and coaching" and "Practice scorecards".

import { fetchJson } from './protocol.js';

/** The token of this page: the fragment's, else the one this tab kept under `key`. */
export function pageToken(key) {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  try {
    if (fromHash) sessionStorage.setItem(key, fromHash);
    return fromHash || sessionStorage.getItem(key);
  } catch {
    // Private mode: only the fragment.
    return fromHash;
  }
}

const enc = encodeURIComponent;

/** The trainer's classes, newest first. */
export const listClasses = (token) => fetchJson('/api/classes', { token }).then((a) => a.classes);
export const getClass = (token, id) => fetchJson(`/api/classes/${enc(id)}`, { token });
export const createClass = (token, body) => fetchJson('/api/classes', { token, method: 'POST', body });
export const classOverview = (token, id) => fetchJson(`/api/classes/${enc(id)}/overview`, { token });
export const putClassWeights = (token, id, weights) => fetchJson(`/api/classes/${enc(id)}/weights`, { token, method: 'PUT', body: weights });
export const retryRoom = (token, id, room) => fetchJson(`/api/classes/${enc(id)}/rooms/${enc(room)}/retry`, { token, method: 'POST' });
/** The canned nudges `{id, vi, en}` (any valid token). */
export const listNudges = (token) => fetchJson('/api/practice/nudges', { token }).then((a) => a.nudges);

export const scorecard = (token, room) => fetchJson(`/api/practice/rooms/${enc(room)}/scorecard`, { token });
export const putMarks = (token, room, marks) => fetchJson(`/api/practice/rooms/${enc(room)}/marks`, { token, method: 'PUT', body: marks });
export const putWeights = (token, room, weights) => fetchJson(`/api/practice/rooms/${enc(room)}/weights`, { token, method: 'PUT', body: weights });
export const annotations = (token, room) => fetchJson(`/api/practice/rooms/${enc(room)}/annotations`, { token }).then((a) => a.annotations);
export const annotate = (token, room, moment, text) => fetchJson(`/api/practice/rooms/${enc(room)}/annotations`, { token, method: 'POST', body: { moment, text } });
export const compare = (token, rooms) => fetchJson(`/api/practice/compare?rooms=${rooms.map(enc).join(',')}`, { token });
export const checkScript = (token, text) => fetchJson('/api/compliance/check', { token, method: 'POST', body: { text } });

/** Save `GET /api/practice/scorecards.csv` for `rooms` as a file (a Blob download with the token). */
export async function downloadScorecardsCsv(token, rooms, english) {
  const response = await fetch(`/api/practice/scorecards.csv?rooms=${rooms.map(enc).join(',')}${english ? '&lang=en' : ''}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) {
    let code = `http_${response.status}`;
    try {
      code = (await response.json())?.error?.code || code;
    } catch {
      // Not JSON: the status says enough.
    }
    throw Object.assign(new Error(code), { code });
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = `${english ? 'scorecards' : 'bang-diem'}-${rooms.length === 1 ? rooms[0] : 'lop'}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Same-origin absolute address of a path the server answered (`/seller.html?…`). */
export function absolute(path) {
  return new URL(path, location.origin).href;
}

/**
 * The role a token claims (`trainer`, `seller`, …), read from its payload
 * without checking it: only to choose which forms a page shows. The server
 * checks every call.
 */
export function tokenRole(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).role || null;
  } catch {
    return null;
  }
}

// --- the lesson: simulated audience and scenarios (docs/protocol.md, "Practice lessons") ---

/** The room's running audience, or null when none runs (404 `invalid_state`). */
export async function audienceOf(token, room) {
  try {
    return await fetchJson(`/api/practice/rooms/${enc(room)}/audience`, { token });
  } catch (error) {
    if (error.status === 404 && error.code === 'invalid_state') return null;
    throw error;
  }
}
export const startAudience = (token, room, lesson) => fetchJson(`/api/practice/rooms/${enc(room)}/audience`, {
  token, method: 'POST', body: { seed: lesson.seed, size: lesson.audience_size, speed: lesson.speed, timeline: lesson.timeline },
});
export const stopAudience = (token, room) => fetchJson(`/api/practice/rooms/${enc(room)}/audience`, { token, method: 'DELETE' });
export const fireScenario = (token, room, id) => fetchJson(`/api/practice/rooms/${enc(room)}/scenarios/${enc(id)}`, { token, method: 'POST' });
/** The scenario library, built-in first (`{id, title, description, steps, builtin}`). */
export const listScenarios = (token) => fetchJson('/api/practice/scenarios', { token }).then((a) => a.scenarios);

/** Save a trainer's own scenario, written in TOML as in config/scenarios/. */
export async function saveScenario(token, toml) {
  const response = await fetch('/api/practice/scenarios', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain; charset=utf-8' },
    body: toml,
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const code = data?.error?.code || `http_${response.status}`;
    throw Object.assign(new Error(data?.error?.message || code), { code, status: response.status, field: data?.error?.field });
  }
  return data;
}
