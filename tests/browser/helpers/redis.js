// A `redis-server` of one test file's own, on a free port in a temporary
// directory (Debian's; the README test command installs it). It can be
// frozen (SIGSTOP: connections stay open, nothing is answered, as when Redis
// hangs) and thawed, and is killed by `stop()`.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const START_TIMEOUT_MS = 30_000;

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Resolves once `check()` is true; rejects with `what` after `ms`. */
export async function waitUntil(what, ms, check) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function requireProgram(name) {
  const found = spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
  if (!found) throw new Error(`${name} is required (apt-get install ${name}; the README test command does)`);
}

/**
 * @returns {Promise<{port: number, url: string, freeze: () => void,
 *   thaw: () => void, stop: () => void}>}
 */
export async function startRedis() {
  requireProgram('redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'chophien-redis-'));
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
    '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const stop = () => {
    if (redis.exitCode === null && redis.signalCode === null) {
      redis.kill('SIGCONT');
      redis.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('redis-server', START_TIMEOUT_MS,
      () => spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() === 'PONG');
  } catch (error) {
    stop();
    throw error;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    freeze: () => redis.kill('SIGSTOP'),
    thaw: () => redis.kill('SIGCONT'),
    stop,
  };
}
