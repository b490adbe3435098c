-- 0002_vehicle_state: one definition of a vehicle's state, used by every
-- transaction that changes alerts, so that the state is recomputed in the
-- same transaction as the change.
--
-- ALERTING if the vehicle has a CRITICAL alert OPEN or ACKNOWLEDGED,
-- DEGRADED if it has an INFO or WARNING one, else NORMAL. A vehicle
-- UNDER_INTERVENTION (a pull-over in progress) keeps that state: the
-- intervention's own transactions end it.
--
-- Concurrency: the vehicles' rows are created if missing, then locked in
-- vehicle_id order (two transactions never wait on each other in opposite
-- orders); the open alerts are read by a later statement, whose snapshot
-- (READ COMMITTED) includes every transaction that held the lock before.

CREATE FUNCTION fo_recompute_vehicle_state(ids text[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	INSERT INTO vehicles (vehicle_id)
	SELECT DISTINCT v FROM unnest(ids) AS v
	ORDER BY 1
	ON CONFLICT (vehicle_id) DO NOTHING;

	PERFORM 1 FROM vehicles WHERE vehicle_id = ANY (ids) ORDER BY vehicle_id FOR UPDATE;

	UPDATE vehicles AS ve
	SET state = s.state, updated_at = now()
	FROM (
		SELECT v.vehicle_id,
		       CASE WHEN bool_or(a.severity = 'CRITICAL') THEN 'ALERTING'
		            WHEN count(a.alert_id) > 0 THEN 'DEGRADED'
		            ELSE 'NORMAL' END AS state
		FROM vehicles AS v
		LEFT JOIN alerts AS a
		       ON a.vehicle_id = v.vehicle_id
		      AND a.alert_status IN ('OPEN', 'ACKNOWLEDGED')
		WHERE v.vehicle_id = ANY (ids)
		GROUP BY v.vehicle_id
	) AS s
	WHERE ve.vehicle_id = s.vehicle_id
	  AND ve.state <> 'UNDER_INTERVENTION'
	  AND ve.state <> s.state;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
