'use strict';

// A SerialDocumentReview driven by the official JS client signed in with bearer tokens
// (`auth: { method: 'bearerToken', token }`). The test plays the identity provider: it
// makes an RSA key, writes the public half as the JWKS file the gateway reads
// ([auth.jwt] jwks_file, given by environment) and signs the users' tokens.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Nuxeo, startGateway, rejectsWithStatus } = require('../support/gateway');

const T = { timeout: 60000 };
const ISSUER = 'https://idp.example.com/realms/acme';
const AUDIENCE = 'flowgate';

const actorIds = (task) => task.actors.map((a) => a.id);
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function identityProvider() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowgate-jwt-'));
  const jwksFile = path.join(dir, 'jwks.json');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'js-1', use: 'sig', alg: 'RS256' };
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const sign = (user, groups, overrides = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: ISSUER, aud: AUDIENCE, sub: `id-${user}`, preferred_username: user, groups,
      iat: now, exp: now + 300, ...overrides,
    };
    const input = `${b64url({ alg: 'RS256', typ: 'JWT', kid: 'js-1' })}.${b64url(claims)}`;
    const signature = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
    return `${input}.${signature}`;
  };
  const env = {
    FLOWGATE__AUTH__JWT__ISSUER: ISSUER,
    FLOWGATE__AUTH__JWT__AUDIENCE: AUDIENCE,
    FLOWGATE__AUTH__JWT__JWKS_FILE: jwksFile,
  };
  return { sign, env };
}

const client = (gw, token) => new Nuxeo({
  baseURL: gw.baseURL, auth: { method: 'bearerToken', token },
});

test('serial review with bearer tokens; an expired token gets 401', T, async (t) => {
  const idp = identityProvider();
  const gw = await startGateway(t, idp.env);
  try {
    // Token users need not be configured: kc-admin is an administrator by its group.
    const admin = client(gw, idp.sign('kc-admin', ['administrators']));
    const jdoe = client(gw, idp.sign('jdoe', ['members']));
    const asmith = client(gw, { access_token: idp.sign('asmith', ['members']) });

    const me = await admin.connect();
    assert.equal(me.user.id, 'kc-admin');
    assert.equal(me.user.isAdministrator, true);

    const wf = await admin.workflows().start('SerialDocumentReview');
    assert.equal(wf.initiator, 'kc-admin');
    const { entries: [choose] } = await admin.workflows().fetchTasks({ workflowInstanceId: wf.id });
    assert.deepEqual(actorIds(choose), ['kc-admin']);
    await choose.complete('start_review', { variables: { participants: ['user:jdoe', 'user:asmith'] } });

    for (const reviewer of [jdoe, asmith]) {
      // eslint-disable-next-line no-await-in-loop
      const { entries } = await reviewer.workflows().fetchTasks({ workflowInstanceId: wf.id });
      assert.equal(entries.length, 1);
      // eslint-disable-next-line no-await-in-loop
      await entries[0].complete('validate', { comment: 'ok' });
    }
    assert.equal((await admin.workflows().fetch(wf.id)).state, 'done');

    const now = Math.floor(Date.now() / 1000);
    const stale = client(gw, idp.sign('jdoe', ['members'], { exp: now - 600, iat: now - 900 }));
    await rejectsWithStatus(stale.workflows().fetch(wf.id), 401);
  } catch (e) {
    e.message = `${e.message}\n--- flowgate log (${gw.logPath}) ---\n${gw.logTail()}`;
    throw e;
  }
});
