// Three `chophien` nodes on one Redis behind HAProxy, for one test file:
// the deployment of docs/deploy.md on this machine.
//
// Starts its own `redis-server` and `haproxy` (Debian's; the README test
// command installs both) on free ports in a temporary directory, then three
// nodes (`node-1`…`node-3`) with the Redis store. Node 1 opens the demo room
// and prints its seller URL; clients go through HAProxy (`config/haproxy.cfg`)
// like a real deployment's. Every process is killed by `stop()`.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, requireProgram, startRedis, waitUntil } from './redis.js';
import { REPO_ROOT, ROOM_ID } from './server.js';

const START_TIMEOUT_MS = 30_000;
const NODES = 3;

async function answers(url) {
  try {
    return (await fetch(url)).status === 200;
  } catch {
    return false;
  }
}

/**
 * @returns {Promise<{lb: string, sellerUrl: string, viewerUrl: string,
 *   nodeUrl: (id: string) => string, kill: (id: string) => void,
 *   logs: (id: string) => string, stop: () => Promise<void>}>}
 */
export async function startCluster() {
  const bin = process.env.CHOPHIEN_BIN
    ? resolve(process.env.CHOPHIEN_BIN)
    : resolve(REPO_ROOT, 'target', 'debug', 'chophien');
  if (!existsSync(bin)) throw new Error(`server binary not found at ${bin}: run \`cargo build\``);
  requireProgram('haproxy');

  const dir = mkdtempSync(join(tmpdir(), 'chophien-cluster-'));
  const children = new Map();
  let redis = null;
  const stop = async () => {
    for (const child of children.values()) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    redis = await startRedis();

    const ports = {};
    let sellerPath = null;
    for (let i = 1; i <= NODES; i += 1) {
      const id = `node-${i}`;
      ports[id] = await freePort();
      const log = openSync(join(dir, `${id}.log`), 'a');
      const child = spawn(bin, ['serve'], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          CHOPHIEN_SERVER__LISTEN: `127.0.0.1:${ports[id]}`,
          CHOPHIEN_SERVER__WEB_ROOT: resolve(REPO_ROOT, 'web-client'),
          CHOPHIEN_SERVER__SHUTDOWN_GRACE_SECS: '3',
          CHOPHIEN_STORE__KIND: 'redis',
          CHOPHIEN_STORE__REDIS_URL: redis.url,
          CHOPHIEN_CLUSTER__NODE_ID: id,
          // Behind HAProxy, as docs/deploy.md says: client addresses come
          // from the X-Forwarded-For it adds.
          CHOPHIEN_SERVER__BEHIND_PROXY: 'true',
          CHOPHIEN_CLUSTER__HEARTBEAT_MS: '300',
          CHOPHIEN_CLUSTER__NODE_TTL_MS: '1500',
          // Only the first node opens the demo room; the others serve it.
          CHOPHIEN_DEMO__ENABLED: i === 1 ? 'true' : 'false',
          CHOPHIEN_MEDIA__ALLOW_LOOPBACK: 'true',
          CHOPHIEN_MEDIA__BIND_IP: '127.0.0.1',
          RUST_LOG: process.env.RUST_LOG || 'chophien=info',
        },
        stdio: ['ignore', 'pipe', log],
      });
      children.set(id, child);
      const lines = createInterface({ input: child.stdout });
      const printed = new Promise((resolveLine) => {
        lines.on('line', (line) => {
          const match = line.match(/Seller studio:\s+http:\/\/[^/\s]+(\/seller\.html\S*#token=\S+)/);
          if (match) resolveLine(match[1]);
        });
      });
      const url = `http://127.0.0.1:${ports[id]}/readyz`;
      await waitUntil(`${id} to be ready`, START_TIMEOUT_MS, async () => {
        if (child.exitCode !== null) throw new Error(`${id} exited at start:\n${readFileSync(join(dir, `${id}.log`), 'utf8')}`);
        return answers(url);
      });
      if (i === 1) sellerPath = await printed;
    }

    const lbPort = await freePort();
    const haproxy = spawn('haproxy', ['-f', resolve(REPO_ROOT, 'config', 'haproxy.cfg'), '-db'], {
      env: {
        ...process.env,
        CHOPHIEN_LB_BIND: `127.0.0.1:${lbPort}`,
        CHOPHIEN_LB_STATS: `127.0.0.1:${await freePort()}`,
        CHOPHIEN_LB_MAXCONN: '2000',
        CHOPHIEN_NODE1: `127.0.0.1:${ports['node-1']}`,
        CHOPHIEN_NODE2: `127.0.0.1:${ports['node-2']}`,
        CHOPHIEN_NODE3: `127.0.0.1:${ports['node-3']}`,
      },
      stdio: 'ignore',
    });
    children.set('haproxy', haproxy);
    const lb = `http://127.0.0.1:${lbPort}`;
    await waitUntil('haproxy to reach a node', START_TIMEOUT_MS, () => answers(`${lb}/readyz`));

    return {
      lb,
      sellerUrl: lb + sellerPath,
      viewerUrl: `${lb}/viewer.html?room=${ROOM_ID}`,
      nodeUrl: (id) => `http://127.0.0.1:${ports[id]}`,
      kill: (id) => children.get(id).kill('SIGKILL'),
      logs: (id) => readFileSync(join(dir, `${id}.log`), 'utf8'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
