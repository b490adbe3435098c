-- 0001_init: the operator's tables. Alerts come from AnomalyEvents and are
-- idempotent on anomaly_id; vehicle state is derived from open alerts (see
-- 0002); every operator action is a row; a resolved alert leaves an
-- incident_history row.

CREATE TABLE operators (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
	token_hash  text NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vehicles (
	vehicle_id  text PRIMARY KEY CHECK (length(vehicle_id) BETWEEN 1 AND 128),
	state       text NOT NULL DEFAULT 'NORMAL'
	            CHECK (state IN ('NORMAL', 'DEGRADED', 'ALERTING', 'UNDER_INTERVENTION')),
	last_x      double precision,
	last_y      double precision,
	last_speed  double precision,
	updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
	alert_id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	anomaly_id            uuid NOT NULL UNIQUE,
	event_id              uuid NOT NULL,
	vehicle_id            text NOT NULL,
	alert_status          text NOT NULL DEFAULT 'OPEN'
	                      CHECK (alert_status IN ('OPEN', 'ACKNOWLEDGED', 'RESOLVED', 'DISMISSED')),
	severity              text NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'CRITICAL')),
	anomaly_type          text NOT NULL,
	triggered_rule        text NOT NULL,
	assigned_operator_id  bigint REFERENCES operators (id),
	features              jsonb NOT NULL DEFAULT '{}',
	thresholds            jsonb NOT NULL DEFAULT '{}',
	evidence              jsonb NOT NULL DEFAULT '{}',
	event_time            timestamptz NOT NULL,
	created_at            timestamptz NOT NULL DEFAULT now(),
	updated_at            timestamptz NOT NULL DEFAULT now(),
	acknowledged_at       timestamptz,
	resolved_at           timestamptz
);

-- GET /alerts filters by status, severity and vehicle, newest first, and
-- pages on (created_at, alert_id).
CREATE INDEX alerts_status_created_idx ON alerts (alert_status, created_at DESC, alert_id);
CREATE INDEX alerts_severity_created_idx ON alerts (severity, created_at DESC, alert_id);
CREATE INDEX alerts_vehicle_created_idx ON alerts (vehicle_id, created_at DESC, alert_id);
CREATE INDEX alerts_created_idx ON alerts (created_at DESC, alert_id);
-- vehicle state recomputation looks at a vehicle's open alerts only
CREATE INDEX alerts_vehicle_open_idx ON alerts (vehicle_id, severity)
	WHERE alert_status IN ('OPEN', 'ACKNOWLEDGED');

CREATE TABLE operator_actions (
	action_id    uuid PRIMARY KEY,
	alert_id     uuid NOT NULL REFERENCES alerts (alert_id),
	vehicle_id   text NOT NULL,
	operator_id  bigint NOT NULL REFERENCES operators (id),
	action_type  text NOT NULL
	             CHECK (action_type IN ('ACKNOWLEDGE', 'ASSIGN', 'PULL_OVER_SIMULATED',
	                                    'REQUEST_REMOTE_ASSIST', 'RESUME', 'RESOLVE', 'DISMISS')),
	metadata     jsonb NOT NULL DEFAULT '{}',
	created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX operator_actions_alert_idx ON operator_actions (alert_id, created_at);
CREATE INDEX operator_actions_vehicle_idx ON operator_actions (vehicle_id, created_at);

CREATE TABLE incident_history (
	incident_id  uuid PRIMARY KEY,
	alert_id     uuid NOT NULL UNIQUE REFERENCES alerts (alert_id),
	vehicle_id   text NOT NULL,
	summary      jsonb NOT NULL DEFAULT '{}',
	resolved_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX incident_history_vehicle_idx ON incident_history (vehicle_id, resolved_at DESC);
