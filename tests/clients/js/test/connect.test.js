'use strict';

// connect(): json/cmis -> automation/login -> user/{id}, with the official JS client.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Nuxeo, withGateway, rejectsWithStatus } = require('../support/gateway');

const T = { timeout: 60000 };

test('connect() as Administrator resolves the server version and the user', T, withGateway(async (gw) => {
  const nuxeo = gw.client('Administrator');
  const connected = await nuxeo.connect();
  assert.equal(connected, nuxeo);
  assert.equal(nuxeo.connected, true);
  assert.match(nuxeo.nuxeoVersion, /\d+\.\d+/);
  assert.ok(nuxeo.serverVersion.gte('10.10'), 'server version must be at least 10.10');
  assert.equal(nuxeo.user.id, 'Administrator');
  assert.equal(nuxeo.user.properties.username, 'Administrator');
  assert.equal(nuxeo.user.isAdministrator, true);
  assert.ok(!('password' in nuxeo.user.properties));
}));

test('connect() as a reviewer resolves that reviewer', T, withGateway(async (gw) => {
  const nuxeo = await gw.client('jdoe').connect();
  assert.equal(nuxeo.user.id, 'jdoe');
  assert.equal(nuxeo.user.isAdministrator, false);
  assert.equal(nuxeo.user.properties.email, 'jdoe@example.com');
}));

test('connect() with a wrong password is rejected with 401', T, withGateway(async (gw) => {
  const nuxeo = gw.client('Administrator', 'wrong');
  await rejectsWithStatus(nuxeo.connect(), 401);
  assert.equal(nuxeo.connected, false);
}));

test('workflow models list the two default reviews', T, withGateway(async (gw) => {
  const nuxeo = gw.client('Administrator');
  const models = await nuxeo.request('workflowModel').get();
  assert.equal(models['entity-type'], 'workflows');
  assert.deepEqual(models.entries.map((m) => m.name).sort(),
    ['ParallelDocumentReview', 'SerialDocumentReview']);
  const parallel = await nuxeo.request('workflowModel/ParallelDocumentReview').get();
  assert.equal(parallel.constructor.name, 'Workflow');
  assert.equal(parallel.state, 'validated');
  assert.equal(parallel.title, 'wf.parallelDocumentReview.ParallelDocumentReview');
  assert.deepEqual(parallel.variables, {
    end_date: null,
    initiatorComment: null,
    participants: [],
    review_result: null,
    review_result_file: null,
    validationOrReview: null,
  });
  const graph = await nuxeo.request('workflowModel/ParallelDocumentReview/graph').get();
  assert.equal(graph['entity-type'], 'graph');
  assert.equal(graph.nodes.length, 7);
  assert.equal(graph.transitions.length, 6);
}));

test('a token requested with Basic auth connects a token client', T, withGateway(async (gw) => {
  const basic = gw.client('asmith');
  const token = await basic.requestAuthenticationToken('flowgate-tests', 'node-test', 'test runner', 'rw');
  assert.equal(typeof token, 'string');
  assert.ok(token.length > 0 && !token.includes('\n'));
  const byToken = new Nuxeo({ baseURL: gw.baseURL, auth: { method: 'token', token } });
  await byToken.connect();
  assert.equal(byToken.user.id, 'asmith');
  const { entries } = await byToken.workflows().fetchStartedWorkflows('SerialDocumentReview');
  assert.deepEqual(entries, []);
}));
