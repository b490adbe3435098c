/*
 * anomaly_json: an AnomalyEvent message (docs/kafka_schemas.md) checked and
 * turned into the row that becomes an alert.
 *
 * Everything PostgreSQL would refuse is refused here first, with a message
 * naming the field, so that a bad message goes to anomalies.dlq instead of
 * failing a whole batch of good ones: ids must be UUIDs, severity and
 * anomaly_type one of the documented values, event_time ISO-8601 UTC,
 * features and thresholds objects of numbers, evidence an object. The row
 * is a compact JSON object with exactly the alert columns the batch insert
 * reads (db.h), features, thresholds and evidence kept as they came.
 *
 * Uses cJSON (the operator is not on the data plane's hot path). Any
 * thread; no shared state.
 */
#ifndef FO_ANOMALY_JSON_H
#define FO_ANOMALY_JSON_H

#include <stddef.h>

#define FO_ANOMALY_VEHICLE_MAX 128 /* bytes of vehicle_id, as the vehicles table allows */

typedef struct fo_anomaly_json {
	char anomaly_id[37];
	char vehicle_id[FO_ANOMALY_VEHICLE_MAX + 1];
	char severity[9];
	char *row; /* {"anomaly_id":..,"event_id":..,...}; malloc'd, freed by
	            * fo_anomaly_json_free */
	size_t row_len;
} fo_anomaly_json;

/* Parses and checks the len bytes at buf (not NUL-terminated). Returns 0
 * with *a filled (free it with fo_anomaly_json_free), or -1 with err naming
 * the first problem (and *a holding nothing to free). Any thread. */
int fo_anomaly_json_parse(const char *buf, size_t len, fo_anomaly_json *a, char *err, size_t errsz);

/* Frees a->row; a may then be reused. NULL-safe. */
void fo_anomaly_json_free(fo_anomaly_json *a);

/* 1 if s is "YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z" with fields in range (day up to
 * the month's length), else 0. */
int fo_anomaly_json_time_ok(const char *s);

#endif
