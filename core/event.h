/*
 * event: the wire form of FleetOps events (docs/kafka_schemas.md).
 *
 * Encodes fo_telemetry as a RawTelemetryEvent JSON object, exactly the bytes
 * that go to Kafka or to an ndjson file, with its deterministic event id
 * (UUIDv5 of the replay session and "vehicle_id:frame_index") and its key
 * (the vehicle id). Allocation-free; callable from any thread on its own
 * buffers.
 */
#ifndef FO_EVENT_H
#define FO_EVENT_H

#include "telemetry.h"
#include "timefmt.h"
#include "uuid5.h"

#include <stddef.h>

#define FO_EVENT_VERSION "1.0.0"
#define FO_EVENT_MAX     1024 /* an encoded RawTelemetryEvent always fits */

/* What every event of one replay shares. Set up once by fo_replay_meta_init. */
typedef struct fo_replay_meta {
	fo_uuid session;
	char session_str[FO_UUID_STR_LEN + 1];
	double replay_rate; /* times real time; 0 means as fast as possible */
} fo_replay_meta;

void fo_replay_meta_init(fo_replay_meta *m, const fo_uuid *session, double replay_rate);

/* The encoded form of one event: key and value point into caller buffers. */
typedef struct fo_event_out {
	char key[FO_VEHICLE_ID_MAX];
	size_t key_len;
	fo_uuid event_id;
} fo_event_out;

/* Encodes t as a RawTelemetryEvent into buf (cap bytes, FO_EVENT_MAX is
 * always enough). processing_time is an ISO-8601 string of
 * FO_ISO8601_LEN characters (formatted once per batch by the caller).
 * Fills out (key, event id). Returns the JSON length, or 0 if cap is too
 * small. */
size_t fo_event_encode_telemetry(const fo_telemetry *t, const fo_replay_meta *m,
                                 const char *processing_time, char *buf, size_t cap,
                                 fo_event_out *out);

/* Computes the event id of (vehicle_id, frame) in session m. */
void fo_event_id(const fo_replay_meta *m, const char *vehicle_id, size_t vid_len, uint32_t frame,
                 fo_uuid *out);

#endif
