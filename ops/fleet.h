/*
 * fleet: the operator's live view of every vehicle: its latest position
 * and state, and a short trail of recent samples, for the map dashboard
 * (docs/operator_api.md: Vehicle, GET /vehicles, GET /vehicles/{id},
 * WebSocket vehicle_updated and stats).
 *
 * One thread, the fleet thread, owns a Kafka consumer of raw_telemetry in
 * its own group (operator-telemetry-group) and a PostgreSQL connection of
 * its own. It polls up to FO_FLEET_BATCH messages, parses them with
 * io/telemetry_json.h outside any lock, then applies the whole batch to the
 * vehicle map under one acquisition of the map's mutex. A message that is
 * not a RawTelemetryEvent is counted and logged (rate-limited, with topic,
 * partition and offset) and skipped; fleetopsd detect already sends it to
 * raw_telemetry.dlq from its own group, so it is not copied again here.
 *
 * Delivery: positions are a live view, so this consumer does not need
 * at-least-once. Offsets are committed automatically (librdkafka's
 * auto-commit, every second, of what was polled), and a group without a
 * committed offset starts at the end of the topic (auto.offset.reset =
 * latest): a restart resumes about where the last run stopped (a short
 * catch-up that brings every vehicle to its true last position), while a
 * new group never replays the topic's history onto the map. Both can be
 * overridden with props.
 *
 * The map: vehicles keyed by vehicle_id in an open-addressing hash table
 * over a dense array that doubles when full; each vehicle has a ring of
 * the last `samples` samples in one slab. Memory grows with the number of
 * vehicles, never per event (about 120 + 40 * samples bytes a vehicle).
 * The latest arrival wins: a sample older than the vehicle's current one is
 * taken as a new run (a scene replayed again) and restarts the trail,
 * unless the trail already holds it (a redelivery), which is skipped.
 *
 * Every flush_ms the fleet thread takes the vehicles that changed since the
 * last time (position, or state through fo_fleet_set_state) and hands
 * {"type":"vehicle_updated","vehicles":[Vehicle...]} to conf->emit, at
 * most max_per_msg vehicles a message; once a second it emits
 * {"type":"stats",...}. Every db_flush_ms it writes the positions of the
 * vehicles that moved to the vehicles table in one upsert (a jsonb array
 * unpacked by jsonb_to_recordset, rows taken in vehicle_id order, the
 * order in which the lifecycle locks them), never touching `state`, which
 * the lifecycle owns. The PostgreSQL connection is non-blocking (libpq's
 * asynchronous calls driven from the fleet loop), so a slow or absent
 * database never holds up consumption: while it is away the latest
 * positions stay in memory and are written once it answers again (retries
 * back off 0.2 s to 5 s; postgres_unavailable and postgres_recovered are
 * logged once each). At start, and again after a failed attempt until it
 * succeeds once, the map is seeded from the vehicles table (state, open
 * alerts, last position), so GET /vehicles answers after a restart before
 * telemetry arrives; seeded values never overwrite newer live ones.
 *
 * Readers (fo_fleet_snapshot, fo_fleet_list, fo_fleet_vehicle,
 * fo_fleet_set_state, fo_fleet_status) may be called from any thread: they
 * hold the map's mutex only to copy the fields they need (a few
 * milliseconds for tens of thousands of vehicles) and build their JSON
 * after releasing it.
 */
#ifndef FO_FLEET_H
#define FO_FLEET_H

#include <stddef.h>
#include <stdint.h>

#define FO_FLEET_GROUP_DEFAULT "operator-telemetry-group"
#define FO_FLEET_TOPIC_DEFAULT "raw_telemetry"
#define FO_FLEET_ID_MAX        128  /* longest vehicle_id kept (the table's CHECK) */
#define FO_FLEET_BATCH         1000 /* messages applied under one lock */
#define FO_FLEET_SAMPLES_MAX   1024

/* Return values of the readers. */
#define FO_FLEET_OK        0
#define FO_FLEET_ENOMEM    (-1)
#define FO_FLEET_NOT_FOUND (-2) /* fo_fleet_vehicle: no such vehicle */
#define FO_FLEET_EINVAL    (-3) /* a state filter or vehicle id that cannot be */

typedef enum fo_fleet_state {
	FO_FLEET_NORMAL = 0,
	FO_FLEET_DEGRADED,
	FO_FLEET_ALERTING,
	FO_FLEET_UNDER_INTERVENTION,
} fo_fleet_state;

/* "NORMAL", "DEGRADED", "ALERTING", "UNDER_INTERVENTION". Any thread. */
const char *fo_fleet_state_str(fo_fleet_state s);

/* The state named s (exact, upper case). Returns 0, or -1 if s names none.
 * Any thread. */
int fo_fleet_state_parse(const char *s, fo_fleet_state *out);

/* Receives one WebSocket message (vehicle_updated or stats); called on the
 * fleet thread; json is valid only during the call (the callee copies). */
typedef void (*fo_fleet_emit_fn)(void *arg, const char *json, size_t len);

/* Fills the open-alert counts by severity for the stats message; returns
 * 0, or -1 to leave open_alerts out of this one. Called on the fleet
 * thread once a second; must not block for long. */
typedef int (*fo_fleet_alerts_fn)(void *arg, uint64_t *info, uint64_t *warning, uint64_t *critical);

typedef struct fo_fleet_conf {
	const char *brokers;      /* default 127.0.0.1:9092 */
	const char *group;        /* default FO_FLEET_GROUP_DEFAULT */
	const char *topic;        /* default FO_FLEET_TOPIC_DEFAULT */
	const char *dsn;          /* PostgreSQL; NULL or "": no database (no seed, no writes) */
	const char *const *props; /* extra "key=value" consumer settings, applied last */
	size_t nprops;
	int flush_ms;       /* vehicle_updated period; default 100 */
	int db_flush_ms;    /* position upsert period; default 1000 */
	unsigned samples;   /* trail length per vehicle, 1..FO_FLEET_SAMPLES_MAX; default 50 */
	size_t max_per_msg; /* vehicles per vehicle_updated message; default 2000 */
	size_t expected_vehicles; /* initial room; default 4096 (grows as needed) */
	size_t max_vehicles;      /* vehicles kept at most; default 1,000,000 (more are dropped) */
	fo_fleet_emit_fn emit;    /* may be NULL: nothing is emitted */
	void *emit_arg;
	fo_fleet_alerts_fn open_alerts; /* may be NULL: stats without open_alerts */
	void *open_alerts_arg;
} fo_fleet_conf;

/* For /health and /metrics: a snapshot. */
typedef struct fo_fleet_status {
	uint64_t consumed;      /* messages polled */
	uint64_t applied;       /* events applied to the map */
	uint64_t bad;           /* messages that were not RawTelemetryEvents */
	uint64_t duplicates;    /* redelivered samples skipped */
	uint64_t dropped;       /* events of vehicles beyond max_vehicles */
	double events_per_s;    /* applied during the last whole second */
	double latency_p50_ms;  /* processing_time to applied, during the last second */
	double latency_p99_ms;  /* 0 when no event arrived in it */
	uint64_t vehicles;      /* in the map */
	int64_t consumer_lag;   /* sum over assigned partitions; -1 unknown */
	int kafka_ok;           /* the consumer has not failed and a broker answers */
	int postgres_ok;        /* the last database call succeeded (0 without a dsn) */
	uint64_t db_writes;     /* position upserts committed */
	uint64_t db_rows;       /* vehicle rows they wrote */
	uint64_t db_failures;   /* upserts, seeds and connections that failed */
	uint64_t messages_sent; /* vehicle_updated and stats messages emitted */
} fo_fleet_status;

typedef struct fo_fleet fo_fleet;

/* Checks conf, creates the consumer (subscribing to topic in group; errors:
 * a bad setting, an unreachable broker, a missing topic, each named) and
 * starts the fleet thread, which connects to PostgreSQL on its own (an
 * absent database is not an error here). conf's strings are copied; the
 * callbacks' args must outlive the fleet. Returns NULL with err. Freed by
 * fo_fleet_stop. Main thread. */
fo_fleet *fo_fleet_start(const fo_fleet_conf *conf, char *err, size_t errsz);

/* Stops the fleet thread (a last position upsert if PostgreSQL is up,
 * waiting for it at most a few seconds), leaves the group (committing),
 * and frees f and everything it returned to nobody. NULL-safe. Main
 * thread, after every reader has stopped calling. */
void fo_fleet_stop(fo_fleet *f);

/* ---- readers: any thread ------------------------------------------------- */

/* Every known vehicle as a JSON array of Vehicle objects ordered by
 * vehicle_id (the WebSocket snapshot's "vehicles"). *json is malloc'd and
 * NUL-terminated, the caller frees it; *len its length. Returns FO_FLEET_OK
 * or FO_FLEET_ENOMEM. */
int fo_fleet_snapshot(fo_fleet *f, char **json, size_t *len);

/* GET /vehicles: {"vehicles":[Vehicle...]} ordered by vehicle_id, only
 * those in state (NULL or "": all). Returns FO_FLEET_OK, FO_FLEET_EINVAL if
 * state names no state (nothing allocated; answer 400), or
 * FO_FLEET_ENOMEM. *json as for fo_fleet_snapshot. */
int fo_fleet_list(fo_fleet *f, const char *state, char **json, size_t *len);

/* GET /vehicles/{id}'s live part: {"vehicle":Vehicle,"telemetry":[{
 * "frame_index","event_time","x","y","speed","acceleration","yaw"}...]}
 * with the trail oldest first (the caller adds "alerts"). Returns
 * FO_FLEET_OK, FO_FLEET_NOT_FOUND (nothing allocated), or FO_FLEET_ENOMEM.
 * *json as for fo_fleet_snapshot. */
int fo_fleet_vehicle(fo_fleet *f, const char *vehicle_id, char **json, size_t *len);

/* The vehicle's state as PostgreSQL now has it (after the transaction that
 * changed it committed), with its open-alert count (open_alerts < 0 leaves
 * the count as it is). Creates the vehicle, without a position, if it is
 * not known; marks it changed for the next vehicle_updated. Returns
 * FO_FLEET_OK, FO_FLEET_EINVAL (an id empty or longer than
 * FO_FLEET_ID_MAX), or FO_FLEET_ENOMEM (the map could not grow). */
int fo_fleet_set_state(fo_fleet *f, const char *vehicle_id, fo_fleet_state state,
                       int64_t open_alerts);

/* Fills *st. Takes no lock. */
void fo_fleet_status_get(const fo_fleet *f, fo_fleet_status *st);

/* ---- without a thread: tests and benchmarks ------------------------------ */

/* A fleet with no thread, no consumer and no database: only the map, fed
 * by fo_fleet_apply and drained by fo_fleet_flush on the caller's thread,
 * which then is "the fleet thread" for everything said above (the readers
 * still work from any thread). conf->brokers, group, topic, dsn and props
 * are ignored. Returns NULL with err. Freed by fo_fleet_stop. */
fo_fleet *fo_fleet_new(const fo_fleet_conf *conf, char *err, size_t errsz);

/* Parses n RawTelemetryEvents (msgs[i] of lens[i] bytes) and applies them
 * in batches of FO_FLEET_BATCH, each under one lock acquisition, exactly as
 * the fleet thread does with polled messages. Returns how many were
 * applied (bad ones are counted and logged). Only on a fleet from
 * fo_fleet_new, on its owner thread. */
size_t fo_fleet_apply(fo_fleet *f, const char *const *msgs, const size_t *lens, size_t n);

/* Emits vehicle_updated for every vehicle changed since the last flush and
 * forgets the changes. Returns the number of vehicles emitted. Only on a
 * fleet from fo_fleet_new, on its owner thread. */
size_t fo_fleet_flush(fo_fleet *f);

#endif
