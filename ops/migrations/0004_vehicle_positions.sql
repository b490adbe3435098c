-- 0004_vehicle_positions: the last position of each vehicle as the
-- operator's fleet view (ops/fleet.c) writes it from raw_telemetry, once
-- a second for the vehicles that moved, so that the map has every vehicle
-- where it was after a restart. The fleet view writes only these columns
-- (and last_x, last_y, last_speed of 0001), never state or updated_at,
-- which belong to the alert lifecycle.

ALTER TABLE vehicles
	ADD COLUMN scene_id             text,
	ADD COLUMN last_acceleration    double precision,
	ADD COLUMN last_yaw             double precision,
	ADD COLUMN last_frame_index     bigint,
	ADD COLUMN last_event_time      timestamptz,
	ADD COLUMN position_updated_at  timestamptz;

-- Vehicle (docs/operator_api.md) with the position fields 0003 left null.
CREATE OR REPLACE FUNCTION fo_vehicle_json(v vehicles, open_alerts bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT json_build_object(
		'vehicle_id', v.vehicle_id,
		'scene_id', coalesce(v.scene_id, substring(v.vehicle_id FROM '^(scene_[0-9]+)')),
		'state', v.state,
		'x', v.last_x,
		'y', v.last_y,
		'speed', v.last_speed,
		'acceleration', v.last_acceleration,
		'yaw', v.last_yaw,
		'frame_index', v.last_frame_index,
		'event_time', fo_iso(v.last_event_time),
		'open_alerts', open_alerts)
$$;
