-- 0003_lifecycle: what the alert lifecycle (docs/operator_api.md) needs on
-- top of 0001/0002: the pull-over in progress as a marker on its alert,
-- the operator_actions outbox marker, unique token hashes, and the one SQL
-- definition of each JSON object the API returns (Alert, Action,
-- Incident, Vehicle), so that no query repeats a column list.

-- A pull-over in progress: due time and the operator who asked for it,
-- both set or both NULL, only on an open alert, at most one per vehicle
-- (the unique index is what makes "no pull-over in progress for the
-- vehicle" hold under concurrent requests).
ALTER TABLE alerts
	ADD COLUMN pullover_due_at       timestamptz,
	ADD COLUMN pullover_operator_id  bigint REFERENCES operators (id),
	ADD CONSTRAINT alerts_pullover_pair_check
		CHECK ((pullover_due_at IS NULL) = (pullover_operator_id IS NULL)),
	ADD CONSTRAINT alerts_pullover_open_check
		CHECK (pullover_due_at IS NULL OR alert_status IN ('OPEN', 'ACKNOWLEDGED'));
-- a closed alert has its closing time (new rows only: NOT VALID leaves rows
-- written before this migration alone)
ALTER TABLE alerts ADD CONSTRAINT alerts_closed_at_check
	CHECK (alert_status IN ('OPEN', 'ACKNOWLEDGED') OR resolved_at IS NOT NULL) NOT VALID;

CREATE UNIQUE INDEX alerts_vehicle_pullover_idx ON alerts (vehicle_id)
	WHERE pullover_due_at IS NOT NULL;
CREATE INDEX alerts_pullover_due_idx ON alerts (pullover_due_at)
	WHERE pullover_due_at IS NOT NULL;

-- The outbox: NULL until the row's OperatorActionEvent is acknowledged by
-- Kafka (ops/outbox.c); rows written before this migration count as
-- unpublished and go out too.
ALTER TABLE operator_actions
	ADD COLUMN published_at timestamptz,
	ADD CONSTRAINT operator_actions_metadata_check CHECK (jsonb_typeof(metadata) = 'object');
CREATE INDEX operator_actions_unpublished_idx ON operator_actions (created_at, action_id)
	WHERE published_at IS NULL;

-- Tokens: only the SHA-256 (64 lowercase hex digits) is stored, and a hash
-- names at most one operator.
ALTER TABLE operators ADD CONSTRAINT operators_token_hash_check
	CHECK (token_hash ~ '^[0-9a-f]{64}$') NOT VALID;
CREATE UNIQUE INDEX operators_token_hash_idx ON operators (token_hash);

-- Times in the API: ISO-8601 UTC with milliseconds.
CREATE FUNCTION fo_iso(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- An operator's name. A function of its own so that the JSON functions
-- below have no subquery and PostgreSQL can inline them into the query
-- (three times faster per row than calling them).
CREATE FUNCTION fo_operator_name(id bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT o.name FROM operators AS o WHERE o.id = fo_operator_name.id
$$;

-- Alert: the alerts table's columns without the JSONB ones, the assigned
-- operator's name, and the pull-over's due time (null when none). The one
-- definition, as JSON text built by concatenation: ingest makes one per
-- new alert, and this is about twice as fast as json_build_object plus
-- json_agg. Strings that could hold any character go through to_json;
-- uuids, numbers, times and the CHECKed status and severity need no
-- escaping.
CREATE FUNCTION fo_alert_text(a alerts) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT concat(
		'{"alert_id":"', a.alert_id,
		'","anomaly_id":"', a.anomaly_id,
		'","event_id":"', a.event_id,
		'","vehicle_id":', to_json(a.vehicle_id),
		',"alert_status":"', a.alert_status,
		'","severity":"', a.severity,
		'","anomaly_type":', to_json(a.anomaly_type),
		',"triggered_rule":', to_json(a.triggered_rule),
		',"assigned_operator_id":', coalesce(a.assigned_operator_id::text, 'null'),
		',"assigned_operator":', CASE WHEN a.assigned_operator_id IS NOT NULL
			THEN coalesce(to_json(fo_operator_name(a.assigned_operator_id))::text, 'null')
			ELSE 'null' END,
		',"event_time":"', fo_iso(a.event_time),
		'","created_at":"', fo_iso(a.created_at),
		'","updated_at":"', fo_iso(a.updated_at),
		'","acknowledged_at":', coalesce('"' || fo_iso(a.acknowledged_at) || '"', 'null'),
		',"resolved_at":', coalesce('"' || fo_iso(a.resolved_at) || '"', 'null'),
		',"pullover_due_at":', coalesce('"' || fo_iso(a.pullover_due_at) || '"', 'null'),
		'}')
$$;

-- The same as json, for queries that compose objects in SQL.
CREATE FUNCTION fo_alert_json(a alerts) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT fo_alert_text(a)::json
$$;

-- Alert with features, thresholds and evidence (GET /alerts/{id}): the
-- object above with three more keys, in that order.
CREATE FUNCTION fo_alert_detail_json(a alerts) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT (left(fo_alert_text(a), -1)
	        || ',"features":' || a.features::text
	        || ',"thresholds":' || a.thresholds::text
	        || ',"evidence":' || a.evidence::text || '}')::json
$$;

CREATE FUNCTION fo_action_json(x operator_actions) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT json_build_object(
		'action_id', x.action_id,
		'alert_id', x.alert_id,
		'vehicle_id', x.vehicle_id,
		'operator_id', x.operator_id,
		'operator_name', fo_operator_name(x.operator_id),
		'action_type', x.action_type,
		'metadata', x.metadata,
		'created_at', fo_iso(x.created_at))
$$;

-- OperatorActionEvent (docs/kafka_schemas.md): what ops/outbox.c produces.
-- processing_time is the action's created_at, so that a republished row
-- has the same bytes.
CREATE FUNCTION fo_action_event_json(x operator_actions) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT json_build_object(
		'event_version', '1.0.0',
		'action_id', x.action_id,
		'alert_id', x.alert_id,
		'vehicle_id', x.vehicle_id,
		'operator_id', x.operator_id,
		'action_type', x.action_type,
		'processing_time', fo_iso(x.created_at),
		'metadata', x.metadata)
$$;

CREATE FUNCTION fo_incident_json(i incident_history) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT json_build_object(
		'incident_id', i.incident_id,
		'alert_id', i.alert_id,
		'vehicle_id', i.vehicle_id,
		'summary', i.summary,
		'resolved_at', fo_iso(i.resolved_at))
$$;

-- Vehicle from its vehicles row and its open-alert count. Position fields
-- this schema does not have yet are null; a later migration that adds them
-- replaces this function (CREATE OR REPLACE, same arguments).
CREATE FUNCTION fo_vehicle_json(v vehicles, open_alerts bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT json_build_object(
		'vehicle_id', v.vehicle_id,
		'scene_id', substring(v.vehicle_id FROM '^(scene_[0-9]+)'),
		'state', v.state,
		'x', v.last_x,
		'y', v.last_y,
		'speed', v.last_speed,
		'acceleration', NULL,
		'yaw', NULL,
		'frame_index', NULL,
		'event_time', NULL,
		'open_alerts', open_alerts)
$$;

-- The vehicle state, now with interventions: UNDER_INTERVENTION while one
-- of the vehicle's alerts has a pull-over in progress, else ALERTING if a
-- CRITICAL alert is OPEN or ACKNOWLEDGED, else DEGRADED if an INFO or
-- WARNING one is, else NORMAL. The one definition, from the vehicle's
-- counts of open alerts.
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
-- costs the same however many alerts a vehicle has open (0002 recounted
-- them in every transaction: ingest slowed down as alerts piled up).
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
-- differs (a row written before 0003's counts, or by hand). Same locking
-- as above. The return type changes from 0002's, hence DROP and CREATE
-- (in this migration's transaction).
DROP FUNCTION fo_recompute_vehicle_state(text[]);
CREATE FUNCTION fo_recompute_vehicle_state(ids text[])
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
CREATE FUNCTION fo_recompute_vehicles_json(ids text[]) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM fo_recompute_vehicle_state(ids);
	RETURN fo_vehicle_states_json(ids);
END
$$;

-- A batch of checked AnomalyEvents (ops/anomaly_json.c: a JSON array of
-- rows) into alerts, in one statement of the caller's transaction: a new
-- OPEN alert per anomaly_id not seen before (repeats, in the batch or
-- earlier, add nothing; the alerts trigger updates their vehicles).
-- Returns how many were new, their Alert objects, and their vehicles as
-- they are now [{vehicle_id, state, open_alerts}] ('[]' when nothing was
-- new), so that ingest can broadcast them. One round trip for the batch.
CREATE FUNCTION fo_alerts_insert(batch jsonb, OUT inserted integer, OUT alerts text,
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
