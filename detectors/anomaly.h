/*
 * anomaly: what a detection rule decided, with everything needed to explain
 * it: the features it looked at, the thresholds it compared them with, and
 * the recent history of the vehicle as evidence. fo_anomaly is a plain
 * value (no pointers to free) so it can cross a ring; its wire form is the
 * AnomalyEvent of docs/kafka_schemas.md.
 */
#ifndef FO_ANOMALY_H
#define FO_ANOMALY_H

#include "uuid5.h"

#include <stddef.h>
#include <stdint.h>

typedef enum fo_anomaly_type {
	FO_AT_SUDDEN_DECELERATION = 0,
	FO_AT_PERCEPTION_INSTABILITY,
	FO_AT_DROPOUT,
	FO_AT_COUNT
} fo_anomaly_type;

typedef enum fo_severity { FO_SEV_INFO = 0, FO_SEV_WARNING, FO_SEV_CRITICAL } fo_severity;

/* The rules; each has its own cool-down. */
typedef enum fo_rule {
	FO_RULE_HARD_BRAKING = 0,
	FO_RULE_LABEL_DROP,
	FO_RULE_POSITION_JUMP,
	FO_RULE_YAW_JUMP,
	FO_RULE_TRACK_DROPOUT,
	FO_RULE_SCENE_AGENT_DROP,
	FO_RULE_COUNT
} fo_rule;

#define FO_ANOMALY_MAX_FEATURES   6
#define FO_ANOMALY_MAX_THRESHOLDS 4
#define FO_EVIDENCE_MAX           10

typedef struct fo_named {
	const char *name; /* static string */
	double value;
} fo_named;

typedef struct fo_anomaly {
	fo_rule rule;
	fo_anomaly_type type;
	fo_severity severity;
	uint32_t scene, frame;
	uint64_t track; /* FO_TRACK_EGO for the logging car */
	int64_t ts_ns;  /* the triggering event's time */
	int nfeatures, nthresholds, nevidence;
	fo_named features[FO_ANOMALY_MAX_FEATURES];
	fo_named thresholds[FO_ANOMALY_MAX_THRESHOLDS];
	uint32_t ev_frame[FO_EVIDENCE_MAX]; /* oldest first */
	float ev_speed[FO_EVIDENCE_MAX];
	float ev_accel[FO_EVIDENCE_MAX];
} fo_anomaly;

const char *fo_anomaly_type_name(fo_anomaly_type t);
const char *fo_severity_name(fo_severity s);
const char *fo_rule_name(fo_rule r);
fo_anomaly_type fo_rule_type(fo_rule r);

/* anomaly_id = UUIDv5(event_id, rule name). */
void fo_anomaly_id(const fo_uuid *event_id, fo_rule r, fo_uuid *out);

#define FO_ANOMALY_JSON_MAX 2048

/* Encodes a as an AnomalyEvent for the telemetry event event_id into buf;
 * processing_time is FO_ISO8601_LEN characters. Writes the key (vehicle id)
 * into key/key_len (FO_VEHICLE_ID_MAX bytes). Returns the length, 0 if cap
 * is too small. Any thread, no allocation. */
size_t fo_anomaly_encode(const fo_anomaly *a, const fo_uuid *event_id, const char *processing_time,
                         char *buf, size_t cap, char *key, size_t *key_len);

#endif
