'use strict';

// Headless Chromium against a real flowgate process:
//  1. a page served from another loopback origin runs a serial review with the official
//     Nuxeo JS client (browser build), so every call crosses origins (CORS, preflights);
//  2. the API explorer at /api/v1/doc renders the workflow endpoints, loads nothing from
//     outside the gateway, and is saved as a screenshot.
//
// Environment: FLOWGATE_BIN (default <target>/debug/flowgate, built when missing),
// CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (default: a temporary directory;
// scripts/ci-extra.sh --update-screenshots writes docs/img).

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CONFIG = path.join(__dirname, '..', 'flowgate-browser.toml');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const T = { timeout: 120000 };

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

// Starts flowgate on a kernel-picked loopback port; stopped when the test ends.
async function startGateway(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowgate-browser-'));
  const logPath = path.join(dir, 'flowgate.log');
  const out = fs.openSync(logPath, 'w');
  const proc = spawn(binary(), ['serve', '--config', CONFIG, '--bind', '127.0.0.1:0'], {
    cwd: ROOT, stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const exited = new Promise((resolve) => { proc.once('exit', resolve); });
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const stop = async () => {
    if (!running()) return;
    proc.kill('SIGTERM');
    let timer;
    const gaveUp = new Promise((resolve) => { timer = setTimeout(resolve, 10000, false); });
    const stopped = await Promise.race([exited.then(() => true), gaveUp]);
    clearTimeout(timer);
    if (!stopped && running()) {
      proc.kill('SIGKILL');
      await exited;
    }
  };
  t.after(stop);
  const log = () => fs.readFileSync(logPath, 'utf8');
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline && running()) {
    const m = /flowgate listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(log());
    if (m) return { origin: m[1], log };
    // eslint-disable-next-line no-await-in-loop
    await sleep(20);
  }
  await stop();
  throw new Error(`flowgate did not start:\n${log()}`);
}

// Serves the test page and the client's browser build on another loopback port.
async function startPageServer(t) {
  const files = {
    '/': [path.join(__dirname, '..', 'page', 'index.html'), 'text/html'],
    '/review.js': [path.join(__dirname, '..', 'page', 'review.js'), 'text/javascript'],
    '/nuxeo.js': [require.resolve('nuxeo/nuxeo.js'), 'text/javascript'],
  };
  const server = http.createServer((req, res) => {
    const file = files[req.url.split('?')[0]];
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!file || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file[1] });
    fs.createReadStream(file[0]).pipe(res);
  });
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  t.after(() => new Promise((resolve) => { server.close(resolve); }));
  return `http://127.0.0.1:${server.address().port}`;
}

// Headless Chromium with a fresh profile, nothing talking to the outside.
async function startBrowser(t) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'flowgate-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    viewport: { width: 1280, height: 1000 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  t.after(async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

test('the official JS client completes tasks from a page on another origin', T, async (t) => {
  const gw = await startGateway(t);
  const pageOrigin = await startPageServer(t);
  assert.notEqual(pageOrigin, gw.origin);
  const browser = await startBrowser(t);
  const page = await browser.newPage();
  const failures = [];
  page.on('console', (m) => { if (m.type() === 'error') failures.push(m.text()); });
  page.on('pageerror', (e) => failures.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) failures.push(`${r.status()} ${r.url()}`); });

  await page.goto(`${pageOrigin}/`, { timeout: 30000 });
  const result = await page.evaluate((base) => window.runReview(base), `${gw.origin}/nuxeo/`);
  assert.deepEqual(failures, []);
  assert.equal(result.started, 'running');
  assert.equal(result.firstTask, 'Task38e');
  assert.equal(result.firstCompleted, 'ended');
  assert.equal(result.reviewActorEntity, 'user');
  assert.equal(result.reviewCompleted, 'ended');
  assert.equal(result.initiatorComment, 'reviewed from a browser page');
  const shown = await page.textContent('#log');
  assert.match(shown, new RegExp(`workflow ${result.workflowId}`));

  // The browser really went through CORS: its preflights were answered (and counted).
  const metrics = await (await fetch(`${gw.origin}/metrics`)).text();
  const preflights = metrics.split('\n').filter((l) => l.startsWith('flowgate_http_requests_total{method="OPTIONS"'));
  assert.ok(preflights.some((l) => l.includes('status="200"')), `no preflight counted:\n${preflights.join('\n')}`);
  assert.ok(preflights.every((l) => !l.includes('status="401"')), preflights.join('\n'));
});

test('the API explorer renders the workflow endpoints from the binary alone', T, async (t) => {
  const gw = await startGateway(t);
  const browser = await startBrowser(t);
  const page = await browser.newPage();
  const foreign = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`${gw.origin}/`) && !r.url().startsWith('data:')) foreign.push(r.url());
  });

  await page.goto(`${gw.origin}/api/v1/doc`, { timeout: 30000 });
  await page.waitForSelector('.opblock-summary-path', { timeout: 30000 });
  const title = await page.textContent('.info .title');
  assert.match(title, /flowgate/);
  const paths = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.textContent.replace(/\u200b/g, '').trim()));
  for (const p of [
    '/api/v1/workflow',
    '/api/v1/workflow/{workflowInstanceId}',
    '/api/v1/task',
    '/api/v1/task/{taskId}/{action}',
    '/api/v1/workflowModel/{modelName}/graph',
    '/api/v1/id/{docId}/@workflow',
  ]) {
    assert.ok(paths.includes(p), `${p} not shown; shown: ${paths.join(', ')}`);
  }
  const tags = await page.$$eval('.opblock-tag', (els) => els.map((e) => e.textContent));
  assert.ok(tags.some((x) => x.startsWith('workflow')), tags.join(', '));
  assert.ok(await page.isVisible('.btn.authorize'), 'the Authorize button (Basic, token) is shown');
  assert.deepEqual(foreign, [], 'the explorer loaded something from outside the gateway');

  const dir = process.env.SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'flowgate-shot-'));
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'api-explorer.png');
  await page.screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 10000, 'the screenshot is not blank');
});
