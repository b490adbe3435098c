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

-- The state recomputation reads a vehicle's open alerts: with the pull-over
-- in the index too it needs no heap access for rows on all-visible pages
-- (replaces 0001's alerts_vehicle_open_idx on (vehicle_id, severity)).
CREATE INDEX alerts_vehicle_open_state_idx ON alerts (vehicle_id, severity, pullover_due_at)
	WHERE alert_status IN ('OPEN', 'ACKNOWLEDGED');
DROP INDEX alerts_vehicle_open_idx;

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
-- WARNING one is, else NORMAL. Returns every vehicle of ids (once, in id
-- order) with its state and open-alert count, so that the caller can
-- broadcast them. Same locking as 0002: rows created if missing, then
-- locked in vehicle_id order before the open alerts are read. The return
-- type changes, hence DROP and CREATE (in this migration's transaction).
DROP FUNCTION fo_recompute_vehicle_state(text[]);
CREATE FUNCTION fo_recompute_vehicle_state(ids text[])
RETURNS TABLE (vehicle_id text, state text, open_alerts integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
	-- the NOT EXISTS spares known vehicles the cost of a conflicting insert
	INSERT INTO vehicles (vehicle_id)
	SELECT DISTINCT v FROM unnest(ids) AS v
	WHERE NOT EXISTS (SELECT 1 FROM vehicles AS k WHERE k.vehicle_id = v)
	ORDER BY 1
	ON CONFLICT (vehicle_id) DO NOTHING;

	PERFORM 1 FROM vehicles AS ve WHERE ve.vehicle_id = ANY (ids)
	ORDER BY ve.vehicle_id FOR UPDATE;

	RETURN QUERY
	WITH s AS (
		SELECT v.vehicle_id,
		       CASE WHEN bool_or(a.pullover_due_at IS NOT NULL) THEN 'UNDER_INTERVENTION'
		            WHEN bool_or(a.severity = 'CRITICAL') THEN 'ALERTING'
		            WHEN count(a.vehicle_id) > 0 THEN 'DEGRADED'
		            ELSE 'NORMAL' END AS state,
		       count(a.vehicle_id)::integer AS open_alerts
		FROM vehicles AS v
		LEFT JOIN alerts AS a
		       ON a.vehicle_id = v.vehicle_id
		      AND a.alert_status IN ('OPEN', 'ACKNOWLEDGED')
		WHERE v.vehicle_id = ANY (ids)
		GROUP BY v.vehicle_id
	), u AS (
		UPDATE vehicles AS ve
		SET state = s.state, updated_at = now()
		FROM s
		WHERE ve.vehicle_id = s.vehicle_id
		  AND ve.state <> s.state
		RETURNING ve.vehicle_id
	)
	SELECT s.vehicle_id, s.state, s.open_alerts FROM s ORDER BY s.vehicle_id;
END
$$;

-- fo_recompute_vehicle_state as the JSON text the broadcasts carry:
-- [{"vehicle_id","state","open_alerts"}], in vehicle_id order.
CREATE FUNCTION fo_recompute_vehicles_json(ids text[]) RETURNS text
LANGUAGE sql AS $$
	SELECT '[' || coalesce(string_agg(concat('{"vehicle_id":', to_json(r.vehicle_id),
	                                         ',"state":"', r.state,
	                                         '","open_alerts":', r.open_alerts, '}'),
	                                  ',' ORDER BY r.vehicle_id), '') || ']'
	FROM fo_recompute_vehicle_state(ids) AS r
$$;

-- A batch of checked AnomalyEvents (ops/anomaly_json.c: a JSON array of
-- rows) into alerts, in one statement of the caller's transaction: a new
-- OPEN alert per anomaly_id not seen before (repeats, in the batch or
-- earlier, add nothing), then the state of their vehicles. Returns how
-- many were new, their Alert objects, and the recomputed vehicles
-- [{vehicle_id, state, open_alerts}] ('[]' when nothing was new), so that
-- ingest can broadcast them. One round trip for the whole batch.
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

	vehicles := CASE WHEN inserted > 0 THEN fo_recompute_vehicles_json(ids) ELSE '[]' END;
END
$$;
