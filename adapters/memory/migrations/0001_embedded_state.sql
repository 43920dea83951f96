-- State of flowgate's embedded engine. Every row belongs to one engine (the `engine`
-- column holds its configured name), so several engines may share a schema. Records
-- are kept whole as JSON (`record`); the columns beside them are what queries filter
-- and sort on, written from the same record in the same statement.

CREATE TABLE fg_engines (
    engine      text PRIMARY KEY,
    -- Sequence number of the last event written for this engine.
    event_seq   bigint NOT NULL DEFAULT 0
);

CREATE TABLE fg_workflows (
    engine      text        NOT NULL,
    id          uuid        NOT NULL,
    model       text        NOT NULL,
    name        text        NOT NULL,
    initiator   text        NOT NULL,
    documents   text[]      NOT NULL,
    state       text        NOT NULL,
    created     timestamptz NOT NULL,
    ended       timestamptz,
    record      json        NOT NULL,
    PRIMARY KEY (engine, id)
);
CREATE INDEX fg_workflows_initiator ON fg_workflows (engine, initiator);
CREATE INDEX fg_workflows_model ON fg_workflows (engine, model);
CREATE INDEX fg_workflows_documents ON fg_workflows USING gin (documents);
CREATE INDEX fg_workflows_running ON fg_workflows (engine, created, id) WHERE state = 'running';
CREATE INDEX fg_workflows_ended ON fg_workflows (engine, ended, id) WHERE ended IS NOT NULL;

CREATE TABLE fg_tasks (
    engine      text        NOT NULL,
    id          uuid        NOT NULL,
    workflow_id uuid        NOT NULL,
    state       text        NOT NULL,
    -- Actors and delegated actors, as spelled on the task.
    principals  text[]      NOT NULL,
    initiator   text        NOT NULL,
    created     timestamptz NOT NULL,
    due         timestamptz,
    record      json        NOT NULL,
    PRIMARY KEY (engine, id),
    FOREIGN KEY (engine, workflow_id) REFERENCES fg_workflows (engine, id) ON DELETE CASCADE
);
CREATE INDEX fg_tasks_workflow ON fg_tasks (engine, workflow_id);
CREATE INDEX fg_tasks_principals ON fg_tasks USING gin (principals);
CREATE INDEX fg_tasks_open ON fg_tasks (engine, due, created, id) WHERE state = 'opened';

CREATE TABLE fg_document_paths (
    engine      text NOT NULL,
    id          text NOT NULL,
    path        text NOT NULL,
    PRIMARY KEY (engine, id)
);

-- Instances started per model, for instance names (`Model`, `Model.2`, ...).
CREATE TABLE fg_instance_counters (
    engine      text   NOT NULL,
    model       text   NOT NULL,
    started     bigint NOT NULL,
    PRIMARY KEY (engine, model)
);

CREATE TABLE fg_events (
    engine      text        NOT NULL,
    seq         bigint      NOT NULL,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,
    workflow_id text        NOT NULL,
    documents   text[]      NOT NULL,
    record      json        NOT NULL,
    PRIMARY KEY (engine, seq)
);
CREATE INDEX fg_events_workflow ON fg_events (engine, workflow_id, seq);

-- Events of committed steps not numbered yet. A step writes its events here with its
-- transaction id; the sequencer numbers the ones of finished transactions (ids below
-- the oldest running one) in transaction order and moves them to fg_events, so steps
-- never wait on each other for numbers and readers never see a number filled in later
-- below one they have seen.
CREATE TABLE fg_event_inbox (
    engine      text        NOT NULL,
    tx          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    ord         integer     NOT NULL,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,
    workflow_id text        NOT NULL,
    documents   text[]      NOT NULL,
    record      json        NOT NULL,
    PRIMARY KEY (engine, tx, ord)
);
CREATE INDEX fg_events_documents ON fg_events USING gin (documents);

-- Lasting authentication tokens of the gateway, by the hex form of their keyed hash
-- (the token itself is never stored), and the gateway's own settings kept in the
-- database (the token hashing key), shared by every replica.
CREATE TABLE fg_tokens (
    hash        text PRIMARY KEY,
    username    text        NOT NULL,
    application text        NOT NULL,
    device_id   text        NOT NULL,
    expires     timestamptz,
    record      json        NOT NULL
);
CREATE TABLE fg_meta (
    key         text PRIMARY KEY,
    value       text NOT NULL
);
CREATE INDEX fg_tokens_user ON fg_tokens (username);

-- Delivery state of the gateway's webhook endpoints, shared by the replicas: cursors
-- per engine, the retry state of the event in flight, recent attempts, the last
-- outcomes and the dead letters (JSON records as the gateway defines them).
CREATE TABLE fg_webhook_cursors (
    endpoint    text   NOT NULL,
    engine      text   NOT NULL,
    seq         bigint NOT NULL,
    PRIMARY KEY (endpoint, engine)
);
CREATE TABLE fg_webhook_endpoints (
    endpoint    text PRIMARY KEY,
    pending     json,
    last        json
);
CREATE TABLE fg_webhook_attempts (
    endpoint    text   NOT NULL,
    n           bigint GENERATED ALWAYS AS IDENTITY,
    record      json   NOT NULL,
    PRIMARY KEY (endpoint, n)
);
CREATE TABLE fg_webhook_letters (
    endpoint    text NOT NULL,
    id          text NOT NULL,
    record      json NOT NULL,
    PRIMARY KEY (endpoint, id)
);
