// Runs a serial review against flowgate with the official Nuxeo JS client, from the page's
// own origin: every call is cross-origin, with credentials, and most are preflighted.
/* global Nuxeo */
'use strict';

function log(line) {
  document.getElementById('log').textContent += `${line}\n`;
}

function client(baseURL, user) {
  // Every test user's password equals its name (development credentials).
  return new Nuxeo({ baseURL, auth: { method: 'basic', username: user, password: user } });
}

window.runReview = async function runReview(baseURL) {
  const admin = client(baseURL, 'Administrator');
  const jdoe = client(baseURL, 'jdoe');

  const wf = await admin.workflows().start('SerialDocumentReview', {
    variables: { validationOrReview: 'simpleReview' },
  });
  log(`started ${wf.id} (${wf.state})`);

  const { entries: [choose] } = await wf.fetchTasks();
  log(`first task ${choose.name} for ${choose.actors.map((a) => a.id).join(', ')}`);
  const chosen = await choose.complete('start_review', {
    variables: { participants: ['user:jdoe'] },
    comment: 'reviewed from a browser page',
  });
  log(`completed ${chosen.id}: ${chosen.state}`);

  // X-NXfetch.task makes the preflight ask for a client header family.
  const mine = await jdoe.workflows().fetchTasks(
    { actorId: 'jdoe' },
    { fetchProperties: { task: ['actors'] } },
  );
  const review = mine.entries.find((t) => t.workflowInstanceId === wf.id);
  log(`jdoe has ${review.name}, actor entity ${review.actors[0]['entity-type']}`);
  const validated = await review.complete('validate', { comment: 'fine by me' });
  log(`completed ${validated.id}: ${validated.state}`);

  const after = await admin.workflows().fetch(wf.id);
  log(`workflow ${after.id}: ${after.state}`);
  return {
    workflowId: wf.id,
    started: wf.state,
    firstTask: choose.nodeName,
    firstCompleted: chosen.state,
    reviewActorEntity: review.actors[0]['entity-type'],
    reviewCompleted: validated.state,
    finalState: after.state,
    initiatorComment: after.variables.initiatorComment,
  };
};
