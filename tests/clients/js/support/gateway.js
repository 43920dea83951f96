// Starts a real flowgate process for the official JavaScript client tests.
//
// Each test gets its own gateway on a free loopback port, started from the debug binary
// with tests/clients/flowgate-clients.toml, and stopped when the test ends. The Nuxeo
// client is pointed at it exactly as it would be at a Nuxeo server.
//
// Environment: FLOWGATE_BIN (default <target dir>/debug/flowgate, built when missing),
// FLOWGATE_CONFIG (default tests/clients/flowgate-clients.toml).

'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const Nuxeo = require('nuxeo');

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const CONFIG = process.env.FLOWGATE_CONFIG
  || path.join(ROOT, 'tests', 'clients', 'flowgate-clients.toml');
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 10000;

function binary() {
  if (process.env.FLOWGATE_BIN) return process.env.FLOWGATE_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
  const bin = path.join(target, 'debug', 'flowgate');
  if (!fs.existsSync(bin)) {
    execFileSync('cargo', ['build', '-p', 'flowgate', '--bin', 'flowgate'], {
      cwd: ROOT, stdio: 'inherit', timeout: 1800000,
    });
  }
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

async function answersHttp(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true; // any HTTP status means the gateway is listening
  } catch {
    return false;
  }
}

class Gateway {
  constructor(proc, port, logPath) {
    this.proc = proc;
    this.port = port;
    this.logPath = logPath;
    this.exited = new Promise((resolve) => { proc.once('exit', resolve); });
    // What a Nuxeo client is given as its server URL: host + the `/nuxeo/` context.
    this.baseURL = `http://127.0.0.1:${port}/nuxeo/`;
  }

  running() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  logTail(lines = 60) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  // An official client logged in as `user` (every test user's password is its name).
  client(user, password = user) {
    return new Nuxeo({
      baseURL: this.baseURL,
      auth: { method: 'basic', username: user, password },
    });
  }

  async stop() {
    if (!this.running()) return;
    this.proc.kill('SIGTERM');
    const stopped = await Promise.race([this.exited.then(() => true), sleep(STOP_TIMEOUT_MS)]);
    if (!stopped && this.running()) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

async function startOnce(bin, logDir) {
  const port = await freePort();
  const logPath = path.join(logDir, `flowgate-${port}.log`);
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(bin, ['serve', '--config', CONFIG, '--bind', `127.0.0.1:${port}`], {
    cwd: ROOT, stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const gw = new Gateway(proc, port, logPath);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && gw.running()) {
    // eslint-disable-next-line no-await-in-loop
    if (await answersHttp(`http://127.0.0.1:${port}/nuxeo/runningstatus`)) return gw;
    // eslint-disable-next-line no-await-in-loop
    await sleep(50);
  }
  await gw.stop();
  throw new Error(`flowgate did not start with ${CONFIG}:\n${gw.logTail()}`);
}

// Starts a gateway for the test context `t` and stops it when the test ends; the log tail
// is printed when the test failed.
async function startGateway(t) {
  const bin = binary();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowgate-node-'));
  let lastError;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      // eslint-disable-next-line no-await-in-loop
      const gw = await startOnce(bin, logDir);
      t.after(async () => {
        await gw.stop();
      });
      t.diagnostic(`flowgate log: ${gw.logPath}`);
      return gw;
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

// Wraps a test body: starts a gateway, runs `fn(gw, t)`, appends the gateway log to the
// error when the body fails. The gateway is stopped by `t.after` in every case.
function withGateway(fn) {
  return async (t) => {
    const gw = await startGateway(t);
    try {
      await fn(gw, t);
    } catch (e) {
      if (e && typeof e === 'object') {
        e.message = `${e.message}\n--- flowgate log (${gw.logPath}) ---\n${gw.logTail()}`;
      }
      throw e;
    }
  };
}

// Resolves when `promise` rejects with an HTTP error of the given status.
async function rejectsWithStatus(promise, status) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  if (!error) throw new Error(`expected HTTP ${status}, the request succeeded`);
  const actual = error.response ? error.response.status : `no response (${error.message})`;
  if (actual !== status) throw new Error(`expected HTTP ${status}, got ${actual}`);
  return error;
}

// A fresh opaque document reference: the embedded engine has no document store.
function newDocument(nuxeo) {
  return new Nuxeo.Document({ uid: crypto.randomUUID(), repository: 'default' }, { nuxeo });
}

module.exports = {
  Nuxeo, startGateway, withGateway, rejectsWithStatus, newDocument,
};
