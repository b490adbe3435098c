/*
 * telemetry_json: the reading side of a RawTelemetryEvent (docs/kafka_schemas.md),
 * from the bytes of a Kafka message or an ndjson line into fo_telemetry.
 *
 * A hand-written parser with a small tokenizer: fields in any order, any
 * JSON whitespace, string escapes (\uXXXX and surrogate pairs included),
 * unknown fields skipped whatever they hold (nested objects and arrays up
 * to FO_TELEMETRY_JSON_DEPTH deep), so producers can add fields without a
 * version bump. The input need not be NUL-terminated and is never read past
 * len. No allocation, no locks, no global state: any thread may parse into
 * its own output; what fleetopsd detect does on its consumer thread for every
 * message, in a few hundred nanoseconds.
 *
 * What it checks, since a message it accepts goes straight to the detectors:
 * every field the detectors or the ids need is present, once, with its JSON
 * type; numbers are finite; scene_id is canonical `scene_NNN`; vehicle_id is
 * `{scene_id}_ego` with a null track_id or `{scene_id}_track_{track_id}`;
 * times are ISO-8601 UTC; ids are UUIDs; event_version is 1.x. It does not
 * recompute event_id (a UUIDv5 hash per message is not worth it) nor check
 * that magnitudes agree with their axes. A message it rejects gets an error
 * that names the field and what is wrong, ready for the DLQ header.
 */
#ifndef FO_TELEMETRY_JSON_H
#define FO_TELEMETRY_JSON_H

#include "telemetry.h"
#include "uuid5.h"

#include <stddef.h>
#include <stdint.h>

/* Unknown fields may nest objects and arrays this deep (the event itself is
 * level 1); deeper input is rejected rather than followed. */
#define FO_TELEMETRY_JSON_DEPTH 32

/* One parsed RawTelemetryEvent. */
typedef struct fo_telemetry_json {
	fo_telemetry t; /* scene, frame, track (FO_TRACK_EGO), ts_ns, the telemetry, and
	                 * frame_agents from metadata.frame_agents (FO_AGENTS_UNKNOWN
	                 * when absent or null) */
	fo_uuid event_id;
	fo_uuid session;    /* metadata.replay_session_id */
	int64_t proc_ns;    /* processing_time, ns since the epoch; 0 when absent */
	double replay_rate; /* metadata.replay_rate; 0 when absent */
} fo_telemetry_json;

/* Parses buf[0..len) as one RawTelemetryEvent into out. Whitespace may
 * surround the object (a trailing newline of an ndjson line is fine);
 * anything else after it is an error. Returns 0, or -1 with err (always
 * NUL-terminated, truncated to errsz) naming the field and the problem, e.g.
 * "telemetry.velocity.x: expected a number", "missing field vehicle_id";
 * out is then partly written and must not be used. Any thread; no
 * allocation. */
int fo_telemetry_json_parse(const char *buf, size_t len, fo_telemetry_json *out, char *err,
                            size_t errsz);

/* Parses "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (s[0..len), not NUL-terminated)
 * into ns since the Unix epoch. Returns 0, or -1 if s is not such a time
 * or names no real date. Any thread. */
int fo_telemetry_json_time(const char *s, size_t len, int64_t *ns);

#endif
