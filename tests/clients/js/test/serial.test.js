'use strict';

// SerialDocumentReview with the official JS client (spec §9.1), including the rejection loop.

const test = require('node:test');
const assert = require('node:assert/strict');
const { withGateway, rejectsWithStatus, newDocument } = require('../support/gateway');

const T = { timeout: 60000 };

const actorIds = (task) => task.actors.map((a) => a.id);
const actionNames = (task) => task.taskInfo.taskActions.map((a) => a.name);

async function onlyTask(nuxeo, wfId, nodeName, actor) {
  const { entries } = await nuxeo.workflows().fetchTasks({ workflowInstanceId: wfId });
  assert.equal(entries.length, 1, `expected one open task, got ${entries.length}`);
  const [task] = entries;
  assert.equal(task.nodeName, nodeName);
  assert.deepEqual(actorIds(task), [actor]);
  return task;
}

async function indexOf(nuxeo, wfId) {
  return (await nuxeo.workflows().fetch(wfId)).variables.index;
}

test('serial review: validate, rejection loop, update request, re-submission, done', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const jdoe = gw.client('jdoe');
  const asmith = gw.client('asmith');

  const wf = await admin.workflows().start('SerialDocumentReview', {
    variables: { validationOrReview: 'simpleReview' },
  });
  assert.equal(wf.state, 'running');
  assert.equal(wf.title, 'wf.serialDocumentReview.SerialDocumentReview');
  assert.deepEqual(wf.variables, {
    index: 0, initiatorComment: null, participants: [], validationOrReview: 'simpleReview',
  });
  const started = await admin.workflows().fetchStartedWorkflows('SerialDocumentReview');
  assert.deepEqual(started.entries.map((w) => w.id), [wf.id]);

  const choose = await onlyTask(admin, wf.id, 'Task38e', 'Administrator');
  assert.equal(choose.name, 'wf.serialDocumentReview.chooseParticipants');
  assert.deepEqual(actionNames(choose), ['cancel', 'start_review']);
  assert.equal(choose.taskInfo.allowTaskReassignment, false);
  // Reassignment is not allowed on this node: 409 (decided deviation, spec §6.12).
  await rejectsWithStatus(choose.reassign(['user:jdoe']), 409);

  await choose.complete('start_review', {
    variables: { participants: ['user:jdoe', 'user:asmith'] },
    comment: 'serial please',
  });
  assert.equal((await admin.workflows().fetch(wf.id)).variables.initiatorComment, 'serial please');

  const v1 = await onlyTask(jdoe, wf.id, 'Task6d8', 'user:jdoe');
  assert.deepEqual(actionNames(v1), ['reject', 'validate']);
  assert.equal(v1.directive, 'wf.serialDocumentReview.AcceptReject');
  await v1.complete('validate', { comment: 'ok' });
  assert.equal(await indexOf(admin, wf.id), 1);

  const v2 = await onlyTask(asmith, wf.id, 'Task6d8', 'user:asmith');
  await v2.complete('reject', { comment: 'not yet' });
  assert.equal(await indexOf(admin, wf.id), 0);

  const back = await onlyTask(jdoe, wf.id, 'Task6d8', 'user:jdoe');
  await back.complete('reject');
  assert.equal(await indexOf(admin, wf.id), -1);

  const update = await onlyTask(admin, wf.id, 'Task542', 'Administrator');
  assert.equal(update.name, 'wf.serialDocumentReview.updateRequest');
  assert.deepEqual(actionNames(update), ['cancel', 'submit']);
  await update.complete('submit');
  assert.equal(await indexOf(admin, wf.id), 0);

  await (await onlyTask(jdoe, wf.id, 'Task6d8', 'user:jdoe')).complete('validate');
  await (await onlyTask(asmith, wf.id, 'Task6d8', 'user:asmith')).complete('validate');

  const done = await admin.workflows().fetch(wf.id);
  assert.equal(done.state, 'done');
  assert.equal(done.variables.index, 2);
  assert.deepEqual((await admin.workflows().fetchTasks({ workflowInstanceId: wf.id })).entries, []);
  assert.deepEqual((await admin.workflows().fetchStartedWorkflows('SerialDocumentReview')).entries, []);
}));

test('serial review on a document: cancel button ends it done', T, withGateway(async (gw) => {
  const admin = gw.client('Administrator');
  const doc = newDocument(admin);
  const wf = await doc.startWorkflow('SerialDocumentReview');
  assert.deepEqual(wf.attachedDocumentIds, [{ id: doc.uid }]);
  const { entries: [choose] } = await wf.fetchTasks();
  assert.equal(choose.nodeName, 'Task38e');
  const ended = await choose.complete('cancel');
  assert.equal(ended.state, 'ended');
  assert.equal((await admin.workflows().fetch(wf.id)).state, 'done');
  assert.deepEqual((await doc.fetchWorkflows()).entries, []);
}));
