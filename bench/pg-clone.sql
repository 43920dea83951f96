-- Bulk seed of bench/pg.sh: fills schema bench_pg_large with the rows of bench_pg_small
-- (workflows started through the API, one open task each) and :clones copies of each,
-- written in SQL as the engine writes them (adapters/memory/src/pg/write.rs): the same
-- columns, and the record JSON with the new ids. Copies belong to other users than the
-- originals (user0042 of copy 17 is bk17_042), so that every user, original or not, has
-- as many tasks as in the small store. Events are copied for the original rows only.
\set ON_ERROR_STOP on
SET search_path = bench_pg_large;

INSERT INTO fg_engines SELECT * FROM bench_pg_small.fg_engines
  ON CONFLICT (engine) DO UPDATE SET event_seq = EXCLUDED.event_seq;
INSERT INTO fg_instance_counters SELECT * FROM bench_pg_small.fg_instance_counters;
INSERT INTO fg_workflows SELECT * FROM bench_pg_small.fg_workflows;
INSERT INTO fg_tasks SELECT * FROM bench_pg_small.fg_tasks;
INSERT INTO fg_document_paths SELECT * FROM bench_pg_small.fg_document_paths;
INSERT INTO fg_events SELECT * FROM bench_pg_small.fg_events;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM fg_workflows w
             WHERE (SELECT count(*) FROM fg_tasks t WHERE t.engine = w.engine AND t.workflow_id = w.id) <> 1) THEN
    RAISE EXCEPTION 'the clone expects exactly one task per seeded workflow';
  END IF;
END $$;

CREATE TEMP TABLE clone_map AS
  SELECT w.engine, w.id AS old_wid, t.id AS old_tid, g,
         gen_random_uuid() AS new_wid, gen_random_uuid() AS new_tid,
         'bk' || g || '_' AS who
  FROM fg_workflows w
  JOIN fg_tasks t ON t.engine = w.engine AND t.workflow_id = w.id
  CROSS JOIN generate_series(1, :clones) g;

INSERT INTO fg_workflows (engine, id, model, name, initiator, documents, state, created, ended, record)
  SELECT w.engine, m.new_wid, w.model, w.name, replace(w.initiator, 'user0', m.who), w.documents,
         w.state, w.created, w.ended,
         replace(replace(replace(w.record::text, m.old_wid::text, m.new_wid::text),
                         m.old_tid::text, m.new_tid::text), '"user0', '"' || m.who)::json
  FROM clone_map m JOIN fg_workflows w ON w.engine = m.engine AND w.id = m.old_wid;

INSERT INTO fg_tasks (engine, id, workflow_id, state, principals, initiator, created, due, record)
  SELECT t.engine, m.new_tid, m.new_wid, t.state,
         ARRAY(SELECT replace(p, 'user0', m.who) FROM unnest(t.principals) p),
         replace(t.initiator, 'user0', m.who), t.created, t.due,
         replace(replace(replace(t.record::text, m.old_wid::text, m.new_wid::text),
                         m.old_tid::text, m.new_tid::text), '"user0', '"' || m.who)::json
  FROM clone_map m JOIN fg_tasks t ON t.engine = m.engine AND t.id = m.old_tid;

UPDATE fg_instance_counters c SET started = c.started + n.k
  FROM (SELECT w.engine, w.model, count(*) AS k FROM clone_map m
        JOIN fg_workflows w ON w.engine = m.engine AND w.id = m.old_wid GROUP BY 1, 2) n
  WHERE c.engine = n.engine AND c.model = n.model;

ANALYZE fg_workflows;
ANALYZE fg_tasks;
