-- 0005_vehicle_counts: a vehicle's state from counts of its open alerts
-- kept on its row, instead of a recount of them in every transaction
-- (0002, 0003), which made ingest slower the more alerts were open. A
-- statement trigger on alerts keeps the counts and the state in the same
-- statement as every change of alerts, whoever makes it.

-- 0003's index served that recount; nothing reads it now, and every
-- insert paid for it.
DROP INDEX alerts_vehicle_open_state_idx;

-- A vehicle's state, as 0003 defines it: UNDER_INTERVENTION while one of
-- its alerts has a pull-over in progress, else ALERTING if a CRITICAL alert
-- is OPEN or ACKNOWLEDGED, else DEGRADED if an INFO or WARNING one is, else
-- NORMAL. From now on the one definition, from the vehicle's counts.
CREATE FUNCTION fo_vehicle_state(open_critical integer, open_other integer, pullovers integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN pullovers > 0 THEN 'UNDER_INTERVENTION'
	            WHEN open_critical > 0 THEN 'ALERTING'
	            WHEN open_other > 0 THEN 'DEGRADED'
	            ELSE 'NORMAL' END
$$;

-- The counts behind the state, kept on the vehicle's row by the trigger
-- below in the same statement as every change of alerts, so that the state
-- costs the same however many alerts a vehicle has open (0002 and 0003
-- recounted them in every transaction: ingest slowed down as alerts piled
-- up).
ALTER TABLE vehicles
	ADD COLUMN open_critical integer NOT NULL DEFAULT 0 CHECK (open_critical >= 0),
	ADD COLUMN open_other    integer NOT NULL DEFAULT 0 CHECK (open_other >= 0),
	ADD COLUMN pullovers     integer NOT NULL DEFAULT 0 CHECK (pullovers >= 0);
-- a vehicle's row changes with every batch of its alerts (and every second
-- with its position): room on each page keeps those updates HOT (no index
-- entries, no page splits)
ALTER TABLE vehicles SET (fillfactor = 50);

INSERT INTO vehicles (vehicle_id)
SELECT DISTINCT vehicle_id FROM alerts ORDER BY 1
ON CONFLICT (vehicle_id) DO NOTHING;
UPDATE vehicles AS v
SET open_critical = s.c, open_other = s.o, pullovers = s.p,
    state = fo_vehicle_state(s.c, s.o, s.p)
FROM (SELECT vehicle_id,
             (count(*) FILTER (WHERE severity = 'CRITICAL'))::integer AS c,
             (count(*) FILTER (WHERE severity <> 'CRITICAL'))::integer AS o,
             (count(*) FILTER (WHERE pullover_due_at IS NOT NULL))::integer AS p
      FROM alerts WHERE alert_status IN ('OPEN', 'ACKNOWLEDGED')
      GROUP BY vehicle_id) AS s
WHERE v.vehicle_id = s.vehicle_id;

-- Adds the deltas cs, os, ps (open CRITICAL alerts, other open alerts,
-- pull-overs in progress) to the vehicles ids (sorted, distinct) and sets
-- their state. Rows are created if missing, then locked in vehicle_id
-- order before they change, like every writer of vehicles does (fleet.c,
-- fo_recompute_vehicle_state): two transactions never wait on each other in
-- opposite orders.
CREATE FUNCTION fo_vehicles_count(ids text[], cs integer[], os integer[], ps integer[])
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO vehicles (vehicle_id)
	SELECT v FROM unnest(ids) AS v
	WHERE NOT EXISTS (SELECT 1 FROM vehicles AS k WHERE k.vehicle_id = v)
	ORDER BY 1
	ON CONFLICT (vehicle_id) DO NOTHING;

	PERFORM 1 FROM vehicles AS ve WHERE ve.vehicle_id = ANY (ids)
	ORDER BY ve.vehicle_id FOR UPDATE;

	UPDATE vehicles AS ve
	SET open_critical = ve.open_critical + d.c,
	    open_other = ve.open_other + d.o,
	    pullovers = ve.pullovers + d.p,
	    state = fo_vehicle_state(ve.open_critical + d.c, ve.open_other + d.o, ve.pullovers + d.p),
	    updated_at = CASE WHEN ve.state = fo_vehicle_state(ve.open_critical + d.c,
	                                                       ve.open_other + d.o,
	                                                       ve.pullovers + d.p)
	                      THEN ve.updated_at ELSE now() END
	FROM unnest(ids, cs, os, ps) AS d(vehicle_id, c, o, p)
	WHERE ve.vehicle_id = d.vehicle_id;
END
$$;

-- The trigger: a statement's change of open alerts per vehicle (+1 for
-- each open alert among the new rows, -1 for each among the old ones),
-- vehicles whose counts do not change left alone (an ASSIGN touches no
-- vehicle).
CREATE FUNCTION fo_alerts_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	ids text[];
	cs integer[];
	os integer[];
	ps integer[];
BEGIN
	IF TG_OP = 'INSERT' THEN
		SELECT array_agg(d.vehicle_id ORDER BY d.vehicle_id), array_agg(d.c ORDER BY d.vehicle_id),
		       array_agg(d.o ORDER BY d.vehicle_id), array_agg(d.p ORDER BY d.vehicle_id)
		INTO ids, cs, os, ps
		FROM (SELECT n.vehicle_id,
		             (count(*) FILTER (WHERE n.severity = 'CRITICAL'))::integer AS c,
		             (count(*) FILTER (WHERE n.severity <> 'CRITICAL'))::integer AS o,
		             (count(*) FILTER (WHERE n.pullover_due_at IS NOT NULL))::integer AS p
		      FROM new_rows AS n
		      WHERE n.alert_status IN ('OPEN', 'ACKNOWLEDGED')
		      GROUP BY n.vehicle_id) AS d;
	ELSIF TG_OP = 'UPDATE' THEN
		SELECT array_agg(d.vehicle_id ORDER BY d.vehicle_id), array_agg(d.c ORDER BY d.vehicle_id),
		       array_agg(d.o ORDER BY d.vehicle_id), array_agg(d.p ORDER BY d.vehicle_id)
		INTO ids, cs, os, ps
		FROM (SELECT x.vehicle_id, sum(x.c)::integer AS c, sum(x.o)::integer AS o,
		             sum(x.p)::integer AS p
		      FROM (SELECT n.vehicle_id, (n.severity = 'CRITICAL')::integer AS c,
		                   (n.severity <> 'CRITICAL')::integer AS o,
		                   (n.pullover_due_at IS NOT NULL)::integer AS p
		            FROM new_rows AS n
		            WHERE n.alert_status IN ('OPEN', 'ACKNOWLEDGED')
		            UNION ALL
		            SELECT o.vehicle_id, -(o.severity = 'CRITICAL')::integer,
		                   -(o.severity <> 'CRITICAL')::integer,
		                   -(o.pullover_due_at IS NOT NULL)::integer
		            FROM old_rows AS o
		            WHERE o.alert_status IN ('OPEN', 'ACKNOWLEDGED')) AS x
		      GROUP BY x.vehicle_id
		      HAVING sum(x.c) <> 0 OR sum(x.o) <> 0 OR sum(x.p) <> 0) AS d;
	ELSE
		SELECT array_agg(d.vehicle_id ORDER BY d.vehicle_id), array_agg(d.c ORDER BY d.vehicle_id),
		       array_agg(d.o ORDER BY d.vehicle_id), array_agg(d.p ORDER BY d.vehicle_id)
		INTO ids, cs, os, ps
		FROM (SELECT o.vehicle_id,
		             -(count(*) FILTER (WHERE o.severity = 'CRITICAL'))::integer AS c,
		             -(count(*) FILTER (WHERE o.severity <> 'CRITICAL'))::integer AS o,
		             -(count(*) FILTER (WHERE o.pullover_due_at IS NOT NULL))::integer AS p
		      FROM old_rows AS o
		      WHERE o.alert_status IN ('OPEN', 'ACKNOWLEDGED')
		      GROUP BY o.vehicle_id) AS d;
	END IF;
	IF ids IS NOT NULL THEN
		PERFORM fo_vehicles_count(ids, cs, os, ps);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER alerts_counts_insert AFTER INSERT ON alerts
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION fo_alerts_counts();
CREATE TRIGGER alerts_counts_update AFTER UPDATE ON alerts
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION fo_alerts_counts();
CREATE TRIGGER alerts_counts_delete AFTER DELETE ON alerts
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION fo_alerts_counts();

-- Every vehicle of ids (once, in id order) with its state and open-alert
-- count, for broadcasting; the state is set again from the counts where it
-- differs. Same locking as above; same signature as 0003's.
CREATE OR REPLACE FUNCTION fo_recompute_vehicle_state(ids text[])
RETURNS TABLE (vehicle_id text, state text, open_alerts integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
	INSERT INTO vehicles (vehicle_id)
	SELECT DISTINCT v FROM unnest(ids) AS v
	WHERE NOT EXISTS (SELECT 1 FROM vehicles AS k WHERE k.vehicle_id = v)
	ORDER BY 1
	ON CONFLICT (vehicle_id) DO NOTHING;

	PERFORM 1 FROM vehicles AS ve WHERE ve.vehicle_id = ANY (ids)
	ORDER BY ve.vehicle_id FOR UPDATE;

	UPDATE vehicles AS ve
	SET state = fo_vehicle_state(ve.open_critical, ve.open_other, ve.pullovers),
	    updated_at = now()
	WHERE ve.vehicle_id = ANY (ids)
	  AND ve.state <> fo_vehicle_state(ve.open_critical, ve.open_other, ve.pullovers);

	RETURN QUERY
	SELECT ve.vehicle_id, ve.state, ve.open_critical + ve.open_other
	FROM vehicles AS ve WHERE ve.vehicle_id = ANY (ids)
	ORDER BY ve.vehicle_id;
END
$$;

-- The vehicles of ids as the JSON text the broadcasts carry:
-- [{"vehicle_id","state","open_alerts"}], in vehicle_id order. Read only:
-- the alerts trigger has already brought them up to date.
CREATE FUNCTION fo_vehicle_states_json(ids text[]) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT '[' || coalesce(string_agg(concat('{"vehicle_id":', to_json(v.vehicle_id),
	                                         ',"state":"', v.state,
	                                         '","open_alerts":', v.open_critical + v.open_other,
	                                         '}'),
	                                  ',' ORDER BY v.vehicle_id), '') || ']'
	FROM vehicles AS v WHERE v.vehicle_id = ANY (ids)
$$;

-- fo_recompute_vehicle_state, then the same JSON.
CREATE OR REPLACE FUNCTION fo_recompute_vehicles_json(ids text[]) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM fo_recompute_vehicle_state(ids);
	RETURN fo_vehicle_states_json(ids);
END
$$;

-- ingest's batch (0003), now with the vehicles as the trigger left them:
-- checked AnomalyEvents (ops/anomaly_json.c: a JSON array of rows) into
-- alerts, in one statement: a new
-- OPEN alert per anomaly_id not seen before (repeats, in the batch or
-- earlier, add nothing; the alerts trigger updates their vehicles).
-- Returns how many were new, their Alert objects, and their vehicles as
-- they are now [{vehicle_id, state, open_alerts}] ('[]' when nothing was
-- new), so that ingest can broadcast them. One round trip for the batch.
CREATE OR REPLACE FUNCTION fo_alerts_insert(batch jsonb, OUT inserted integer, OUT alerts text,
                                 OUT vehicles text)
LANGUAGE plpgsql AS $$
DECLARE
	ids text[];
BEGIN
	WITH ins AS (
		INSERT INTO alerts AS al (anomaly_id, event_id, vehicle_id, severity, anomaly_type,
		                          triggered_rule, event_time, features, thresholds, evidence)
		SELECT DISTINCT ON (r.anomaly_id) r.anomaly_id, r.event_id, r.vehicle_id, r.severity,
		       r.anomaly_type, r.triggered_rule, r.event_time, r.features, r.thresholds,
		       r.evidence
		FROM jsonb_to_recordset(batch) AS r(anomaly_id uuid, event_id uuid, vehicle_id text,
		     severity text, anomaly_type text, triggered_rule text, event_time timestamptz,
		     features jsonb, thresholds jsonb, evidence jsonb)
		ORDER BY r.anomaly_id
		ON CONFLICT (anomaly_id) DO NOTHING
		RETURNING al.vehicle_id, fo_alert_text(al) AS j
	)
	SELECT count(*), '[' || coalesce(string_agg(ins.j, ','), '') || ']',
	       array_agg(ins.vehicle_id)
	INTO inserted, alerts, ids
	FROM ins;

	vehicles := CASE WHEN inserted > 0 THEN fo_vehicle_states_json(ids) ELSE '[]' END;
END
$$;
