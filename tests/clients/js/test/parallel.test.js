'use strict';

// ParallelDocumentReview with the official JS client (spec §9.2).

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  Nuxeo, withGateway, rejectsWithStatus, newDocument,
} = require('../support/gateway');

const T = { timeout: 60000 };
const END_DATE = '2030-01-01T12:00:00.000Z';

const actorIds = (task) => task.actors.map((a) => a.id);
const actionNames = (task) => task.taskInfo.taskActions.map((a) => a.name);

test('parallel review started on a document runs to done through approve and validate', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const jdoe = gw.client('jdoe');
  const asmith = gw.client('asmith');
  const doc = newDocument(admin);

  const wf = await doc.startWorkflow('ParallelDocumentReview');
  assert.ok(wf instanceof Nuxeo.Workflow);
  assert.equal(wf.state, 'running');
  assert.equal(wf.workflowModelName, 'ParallelDocumentReview');
  assert.equal(wf.initiator, 'Administrator');
  assert.deepEqual(wf.attachedDocumentIds, [{ id: doc.uid }]);
  assert.equal(wf.graphResource, `${gw.baseURL}api/v1/workflow/${wf.id}/graph`);

  const onDoc = await doc.fetchWorkflows();
  assert.deepEqual(onDoc.entries.map((w) => w.id), [wf.id]);

  // The workflow came from the document: fetchTasks() uses id/{doc}/@workflow/{id}/task.
  const first = await wf.fetchTasks();
  assert.equal(first['entity-type'], 'tasks');
  assert.equal(first.entries.length, 1);
  const choose = first.entries[0];
  assert.ok(choose instanceof Nuxeo.Task);
  assert.equal(choose.nodeName, 'Task2556');
  assert.equal(choose.name, 'wf.parallelDocumentReview.chooseParticipants.title');
  assert.deepEqual(actorIds(choose), ['Administrator']);
  assert.deepEqual(actionNames(choose), ['cancel', 'start_review']);
  assert.deepEqual(choose.taskInfo.taskActions[1], {
    name: 'start_review',
    url: `${gw.baseURL}api/v1/task/${choose.id}/start_review`,
    label: 'wf.parallelDocumentReview.startReview',
    validate: true,
  });
  assert.deepEqual(choose.targetDocumentIds, [{ id: doc.uid }]);
  assert.deepEqual(choose.delegatedActors, []);

  const graph = await wf.fetchGraph();
  assert.equal(graph['entity-type'], 'graph');
  const waiting = graph.nodes.find((n) => n.id === 'Task2556');
  assert.equal(waiting.state, 'suspended');

  const ended = await choose.complete('start_review', {
    variables: { ...choose.variables, participants: ['user:jdoe', 'user:asmith'], end_date: END_DATE },
    comment: 'please review',
  });
  assert.ok(ended instanceof Nuxeo.Task);
  assert.equal(ended.state, 'ended');
  assert.equal(ended.comments.at(-1).author, 'Administrator');
  assert.equal(ended.comments.at(-1).text, 'please review');

  const reviews = await admin.workflows().fetchTasks({ workflowInstanceId: wf.id });
  assert.deepEqual(reviews.entries.map((t) => actorIds(t)[0]).sort(), ['user:asmith', 'user:jdoe']);
  for (const t of reviews.entries) {
    assert.equal(t.nodeName, 'Task328d');
    assert.deepEqual(actionNames(t), ['NA', 'approve', 'reject']);
    assert.equal(t.dueDate, END_DATE);
    assert.equal(t.variables.initiatorComment, 'please review');
  }

  const jdoeTasks = await jdoe.workflows().fetchTasks({ actorId: 'jdoe' });
  assert.equal(jdoeTasks.entries.length, 1);
  await jdoeTasks.entries[0].complete('approve', { comment: 'looks good' });

  const stillOpen = await admin.workflows().fetchTasks({ workflowInstanceId: wf.id });
  assert.deepEqual(stillOpen.entries.map((t) => actorIds(t)[0]), ['user:asmith']);

  const asmithTasks = await asmith.workflows().fetchTasks({ actorId: 'asmith', workflowModelName: 'ParallelDocumentReview' });
  assert.equal(asmithTasks.entries.length, 1);
  await asmithTasks.entries[0].complete('reject', { comment: 'needs work' });

  const last = await wf.fetchTasks();
  assert.equal(last.entries.length, 1);
  const consolidate = last.entries[0];
  assert.equal(consolidate.nodeName, 'Task2169');
  assert.deepEqual(actorIds(consolidate), ['Administrator']);
  assert.deepEqual(actionNames(consolidate), ['reject', 'validate']);
  assert.equal(typeof consolidate.variables.review_result, 'string');
  assert.ok(consolidate.variables.review_result.trim().length > 0);

  const validated = await consolidate.complete('validate', { comment: 'approved' });
  assert.equal(validated.state, 'ended');

  const done = await admin.workflows().fetch(wf.id);
  assert.equal(done.state, 'done');
  assert.deepEqual((await wf.fetchTasks()).entries, []);
  assert.deepEqual((await doc.fetchWorkflows()).entries, []);
  assert.deepEqual((await admin.workflows().fetchStartedWorkflows('ParallelDocumentReview')).entries, []);

  await rejectsWithStatus(consolidate.complete('validate'), 409);
}));

test('parallel review started without a document ends done after a rejection', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const wf = await admin.workflows().start('ParallelDocumentReview');
  assert.equal(wf.state, 'running');
  assert.deepEqual(wf.attachedDocumentIds, []);

  // Not from a document: fetchTasks() uses task?workflowInstanceId=.
  const [choose] = (await wf.fetchTasks()).entries;
  assert.equal(choose.nodeName, 'Task2556');
  await choose.complete('start_review', {
    variables: { participants: ['user:Administrator'] },
  });

  const [review] = (await wf.fetchTasks()).entries;
  assert.equal(review.nodeName, 'Task328d');
  assert.deepEqual(actorIds(review), ['user:Administrator']);
  assert.equal(review.dueDate, null);
  await review.complete('NA');

  const [consolidate] = (await wf.fetchTasks()).entries;
  assert.equal(consolidate.nodeName, 'Task2169');
  await consolidate.complete('reject');

  assert.equal((await admin.workflows().fetch(wf.id)).state, 'done');
  assert.deepEqual((await wf.fetchTasks()).entries, []);
}));

test('fetch properties resolve task actors and target documents into entities', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const doc = newDocument(admin);
  const wf = await doc.startWorkflow('ParallelDocumentReview');
  const { entries: [choose] } = await wf.fetchTasks();
  await choose.complete('start_review', {
    variables: { participants: ['user:jdoe', 'group:members'] },
  });

  const jdoe = gw.client('jdoe');
  const { entries } = await jdoe.workflows().fetchTasks(
    { actorId: 'jdoe' },
    { fetchProperties: { task: ['actors', 'targetDocumentIds'] } },
  );
  // jdoe reviews directly and as a member of the group: two tasks.
  assert.equal(entries.length, 2);
  const byActor = Object.fromEntries(entries.map((t) => [t.actors[0]['entity-type'], t]));
  const user = byActor.user.actors[0];
  assert.equal(user.id, 'jdoe'); // prefix gone once resolved
  assert.equal(user.properties.username, 'jdoe');
  const group = byActor.group.actors[0];
  assert.equal(group.groupname, 'members');
  for (const t of entries) {
    assert.equal(t.targetDocumentIds[0]['entity-type'], 'document');
    assert.equal(t.targetDocumentIds[0].uid, doc.uid);
  }
}));
