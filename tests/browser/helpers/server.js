// Start a real `chophien` server for one test file.
//
// The binary comes from $CHOPHIEN_BIN (default: target/debug/chophien at
// the repository root). It listens on 127.0.0.1:0 (a free port), serves
// web-client/ from the repository, and prints the demo room's URLs; the
// `Seller studio:` line gives the port and the seller's token.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const ROOM_ID = 'tra-thai-nguyen';
const START_TIMEOUT_MS = 30_000;

/**
 * `env`: settings on top of the defaults (e.g. `CHOPHIEN_STORE__KIND`).
 * @returns {Promise<{base: string, sellerUrl: string, sellerToken: string,
 *   viewerUrl: string, logs: string[], stop: () => Promise<void>}>}
 */
export async function startServer({ env = {} } = {}) {
  const bin = process.env.CHOPHIEN_BIN
    ? resolve(process.env.CHOPHIEN_BIN)
    : resolve(REPO_ROOT, 'target', 'debug', 'chophien');
  if (!existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}: run \`cargo build\` or set CHOPHIEN_BIN`);
  }
  // Journals and recordings of this server only, removed when it stops.
  const dataDir = mkdtempSync(join(tmpdir(), 'chophien-data-'));
  const child = spawn(bin, ['serve'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      CHOPHIEN_SERVER__LISTEN: '127.0.0.1:0',
      CHOPHIEN_SERVER__WEB_ROOT: resolve(REPO_ROOT, 'web-client'),
      CHOPHIEN_DEMO__ENABLED: 'true',
      // Browser and server share this machine: let WebRTC use loopback candidates.
      CHOPHIEN_MEDIA__ALLOW_LOOPBACK: 'true',
      CHOPHIEN_DATA__DIR: dataDir,
      RUST_LOG: process.env.RUST_LOG || 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  createInterface({ input: child.stderr }).on('line', (line) => logs.push(line));
  const lines = createInterface({ input: child.stdout });

  const started = new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => rejectStart(new Error(`server did not print its URLs within ${START_TIMEOUT_MS} ms:\n${logs.join('\n')}`)), START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rejectStart(new Error(`server exited early (code ${code}):\n${logs.join('\n')}`));
    });
    lines.on('line', (line) => {
      logs.push(line);
      const match = line.match(/Seller studio:\s+(http:\/\/[^/\s]+)(\/seller\.html\S*#token=(\S+))/);
      if (match) {
        clearTimeout(timer);
        resolveStart({ base: match[1], sellerUrl: match[1] + match[2], sellerToken: match[3] });
      }
    });
  });

  let info;
  try {
    info = await started;
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...info,
    viewerUrl: `${info.base}/viewer.html?room=${ROOM_ID}`,
    logs,
    dataDir,
    async stop() {
      if (child.exitCode !== null) {
        rmSync(dataDir, { recursive: true, force: true });
        return;
      }
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The demo's trainer link, printed by `chophien serve` beside the seller's. */
export function trainerUrl(server) {
  const link = server.logs.map((l) => l.match(/Trainer:\s+(http\S+)/)).find(Boolean);
  if (!link) throw new Error(`the server printed no trainer link:\n${server.logs.join('\n')}`);
  return link[1];
}
