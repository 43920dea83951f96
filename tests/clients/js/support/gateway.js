// Starts a real flowgate process for the official JavaScript client tests.
//
// Each test gets its own gateway on a loopback port the kernel picks (port 0), started from the debug binary
// with tests/clients/flowgate-clients.toml, and stopped when the test ends. The Nuxeo
// client is pointed at it exactly as it would be at a Nuxeo server.
//
// Environment: FLOWGATE_BIN (default <target dir>/debug/flowgate, built when missing),
// FLOWGATE_CONFIG (default tests/clients/flowgate-clients.toml).

'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
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

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

const LISTENING = /flowgate listening on http:\/\/127\.0\.0\.1:(\d+)\//;

// The port from the line the gateway prints once it accepts connections, or null.
function announcedPort(logPath) {
  try {
    const m = LISTENING.exec(fs.readFileSync(logPath, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

class Gateway {
  constructor(proc, logPath) {
    this.proc = proc;
    this.logPath = logPath;
    this.port = null;
    this.baseURL = null;
    this.exited = new Promise((resolve) => { proc.once('exit', resolve); });
  }

  listening(port) {
    this.port = port;
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
    let timer;
    const gaveUp = new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS, false); });
    const stopped = await Promise.race([this.exited.then(() => true), gaveUp]);
    clearTimeout(timer); // a pending timer would keep the test process alive
    if (!stopped && this.running()) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

// Starts a gateway for the test context `t` and stops it when the test ends; `env` adds
// environment variables (settings overrides such as FLOWGATE__AUTH__JWT__ISSUER).
async function startGateway(t, env = {}) {
  const bin = binary();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowgate-node-'));
  const logPath = path.join(logDir, 'flowgate.log');
  const log = fs.openSync(logPath, 'w');
  // Port 0: the kernel picks a free port, the gateway announces it on stdout.
  const proc = spawn(bin, ['serve', '--config', CONFIG, '--bind', '127.0.0.1:0'], {
    cwd: ROOT, stdio: ['ignore', log, log], env: { ...process.env, ...env },
  });
  fs.closeSync(log);
  const gw = new Gateway(proc, logPath);
  t.after(async () => {
    await gw.stop();
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && gw.running()) {
    const port = announcedPort(logPath);
    if (port) {
      gw.listening(port);
      return gw;
    }
    // eslint-disable-next-line no-await-in-loop
    await sleep(20);
  }
  await gw.stop();
  throw new Error(`flowgate did not start with ${CONFIG}:\n${gw.logTail()}`);
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
