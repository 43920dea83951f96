'use strict';

// Reassign, delegate, permissions and cancel with the official JS client.

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  Nuxeo, withGateway, rejectsWithStatus, newDocument,
} = require('../support/gateway');

const T = { timeout: 60000 };

const ids = (list) => list.map((a) => a.id);

async function serialReview(admin, participants) {
  const wf = await admin.workflows().start('SerialDocumentReview');
  const { entries: [choose] } = await wf.fetchTasks();
  await choose.complete('start_review', { variables: { participants } });
  const { entries: [review] } = await wf.fetchTasks();
  assert.equal(review.nodeName, 'Task6d8');
  return { wf, review };
}

const fetchTask = (nuxeo, id) => nuxeo.request(`task/${id}`).get();

test('reassign replaces actors and delegate adds delegated actors', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const { wf, review } = await serialReview(admin, ['user:jdoe']);

  const reassigned = await review.reassign(['user:bob'], { comment: 'bob takes over' });
  assert.equal(reassigned.status, 200);

  let task = await fetchTask(admin, review.id);
  assert.ok(task instanceof Nuxeo.Task);
  assert.deepEqual(ids(task.actors), ['bob']);
  assert.deepEqual(task.delegatedActors, []);
  assert.equal(task.comments.at(-1).author, 'Administrator');
  assert.equal(task.comments.at(-1).text, 'bob takes over');
  assert.deepEqual((await gw.client('jdoe').workflows().fetchTasks({ actorId: 'jdoe' })).entries, []);

  const bob = gw.client('bob');
  const bobs = await bob.workflows().fetchTasks({ actorId: 'bob' });
  assert.deepEqual(bobs.entries.map((t) => t.id), [review.id]);

  // bob, now an actor, delegates to a user and a group.
  await bobs.entries[0].delegate(['user:asmith', 'group:members'], { comment: 'help wanted' });
  task = await fetchTask(admin, review.id);
  assert.deepEqual(ids(task.actors), ['bob']);
  assert.deepEqual(ids(task.delegatedActors), ['asmith', 'members']);
  assert.equal(task.comments.length, 2);
  assert.equal(task.comments.at(-1).author, 'bob');
  assert.equal(task.comments.at(-1).text, 'help wanted');

  // jdoe is a member of the delegated group again.
  const jdoeSees = await gw.client('jdoe').workflows().fetchTasks({ actorId: 'jdoe' });
  assert.deepEqual(jdoeSees.entries.map((t) => t.id), [review.id]);
  const asmithSees = await gw.client('asmith').workflows().fetchTasks({ actorId: 'asmith' });
  const completed = await asmithSees.entries[0].complete('validate', { comment: 'done for bob' });
  assert.equal(completed.state, 'ended');
  assert.equal((await admin.workflows().fetch(wf.id)).state, 'done');
}));

test('an outsider can neither complete, transfer nor cancel', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const { wf, review } = await serialReview(admin, ['user:jdoe']);
  const bob = gw.client('bob');

  // Empty query values count as absent: this is "every task bob may see".
  assert.deepEqual((await bob.workflows().fetchTasks()).entries, []);
  assert.deepEqual((await bob.workflows().fetchTasks({ actorId: 'jdoe' })).entries, []);

  // The task as bob would hold it (e.g. from a link): its data, bob's client.
  const data = Object.fromEntries(Object.entries(review).filter(([k]) => !k.startsWith('_')));
  const asBob = new Nuxeo.Task(data, { nuxeo: bob });
  await rejectsWithStatus(asBob.complete('validate'), 403);
  await rejectsWithStatus(asBob.reassign(['user:bob']), 403);
  await rejectsWithStatus(asBob.delegate(['user:bob']), 403);
  await rejectsWithStatus(bob.workflows().delete(wf.id), 403);
  await rejectsWithStatus(fetchTask(bob, review.id), 403);

  const task = await fetchTask(admin, review.id);
  assert.equal(task.state, 'opened');
  assert.deepEqual(ids(task.actors), ['user:jdoe']);
  assert.deepEqual(task.comments, []);
}));

test('deleting a workflow cancels it and its open tasks', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const doc = newDocument(admin);
  const wf = await doc.startWorkflow('ParallelDocumentReview');
  const { entries: [choose] } = await wf.fetchTasks();

  const res = await admin.workflows().delete(wf.id);
  assert.equal(res.status, 204);

  const cancelled = await admin.workflows().fetch(wf.id);
  assert.equal(cancelled.state, 'canceled');
  assert.equal((await fetchTask(admin, choose.id)).state, 'cancelled');
  assert.deepEqual((await admin.workflows().fetchTasks({ workflowInstanceId: wf.id })).entries, []);
  assert.deepEqual((await doc.fetchWorkflows()).entries, []);
  await rejectsWithStatus(choose.complete('start_review'), 409);
  await rejectsWithStatus(admin.workflows().delete(wf.id), 400);
}));

test('unknown ids answer 404 exception entities', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const err = await rejectsWithStatus(admin.workflows().fetch('no-such-workflow'), 404);
  assert.match(err.response.headers.get('content-type'), /^application\/json/);
  const body = await err.response.json();
  assert.equal(body['entity-type'], 'exception');
  assert.equal(body.status, 404);
  assert.ok(body.message.length > 0);
  await rejectsWithStatus(fetchTask(admin, 'no-such-task'), 404);
  await rejectsWithStatus(admin.workflows().start('NoSuchModel'), 404);
}));

test('task filters that match nothing answer empty lists', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const { wf } = await serialReview(admin, ['user:jdoe']);
  const fetchTasks = async (opts) => (await admin.workflows().fetchTasks(opts)).entries;
  assert.equal((await fetchTasks({ workflowInstanceId: wf.id })).length, 1);
  assert.equal((await fetchTasks({ actorId: 'jdoe', workflowModelName: 'SerialDocumentReview' })).length, 1);
  assert.deepEqual(await fetchTasks({ actorId: 'leela' }), []); // no such user
  assert.deepEqual(await fetchTasks({ workflowModelName: 'foo' }), []);
  assert.deepEqual(await fetchTasks({ workflowInstanceId: 'no-such-workflow' }), []);
}));
