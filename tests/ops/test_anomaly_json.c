/*
 * Unit: AnomalyEvent messages as fleetops-operator reads them. The
 * detectors' own encoder (fo_anomaly_encode) is the reference for what a
 * good message is; every refused message names the field at fault.
 */
#include "anomaly.h"
#include "anomaly_json.h"
#include "fo_test.h"

#include <cjson/cJSON.h>

static const char good[] =
    "{\"event_version\":\"1.0.0\",\"anomaly_id\":\"0b7c2f5e-1d1e-5a4b-9c6e-2f7a3b4c5d6e\","
    "\"event_id\":\"f3353f91-4ce4-50f2-8192-a7278dce660f\",\"vehicle_id\":\"scene_000_ego\","
    "\"event_time\":\"2019-10-23T16:08:01.502Z\",\"processing_time\":\"2026-11-23T10:45:48.749Z\","
    "\"anomaly_type\":\"dropout\",\"severity\":\"CRITICAL\",\"triggered_rule\":\"track_dropout\","
    "\"features\":{\"gap_s\":1.5},\"thresholds\":{\"gap_s\":1.0},"
    "\"evidence\":{\"frame_indices\":[1,2],\"velocity_history\":[1.0,0.5],"
    "\"acceleration_history\":[0.0,-5.0]}}";

/* good with the first occurrence of from replaced by to. */
static int bad(const char *from, const char *to, const char *want_in_err)
{
	char msg[2048], err[256];
	const char *at = strstr(good, from);
	if (!at) {
		fprintf(stderr, "test bug: %s not in the message\n", from);
		return 0;
	}
	snprintf(msg, sizeof(msg), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	fo_anomaly_json a;
	int rc = fo_anomaly_json_parse(msg, strlen(msg), &a, err, sizeof(err));
	if (rc == 0) {
		fo_anomaly_json_free(&a);
		fprintf(stderr, "accepted: %s\n", msg);
		return 0;
	}
	if (!strstr(err, want_in_err)) {
		fprintf(stderr, "error \"%s\" does not mention %s\n", err, want_in_err);
		return 0;
	}
	return 1;
}

int main(void)
{
	char err[256];
	fo_anomaly_json a;

	/* a good message: the row carries the alert columns and the JSON parts */
	FO_CHECK(fo_anomaly_json_parse(good, strlen(good), &a, err, sizeof(err)) == 0);
	FO_CHECK_STR(a.anomaly_id, "0b7c2f5e-1d1e-5a4b-9c6e-2f7a3b4c5d6e");
	FO_CHECK_STR(a.vehicle_id, "scene_000_ego");
	FO_CHECK_STR(a.severity, "CRITICAL");
	cJSON *row = cJSON_ParseWithLength(a.row, a.row_len);
	FO_CHECK(row != NULL && a.row_len == strlen(a.row));
	if (row) {
		FO_CHECK_STR(cJSON_GetObjectItem(row, "event_id")->valuestring,
		             "f3353f91-4ce4-50f2-8192-a7278dce660f");
		FO_CHECK_STR(cJSON_GetObjectItem(row, "anomaly_type")->valuestring, "dropout");
		FO_CHECK_STR(cJSON_GetObjectItem(row, "triggered_rule")->valuestring,
		             "track_dropout");
		FO_CHECK_STR(cJSON_GetObjectItem(row, "event_time")->valuestring,
		             "2019-10-23T16:08:01.502Z");
		FO_CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(row, "features"), "gap_s")
		             ->valuedouble == 1.5);
		FO_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(
		             cJSON_GetObjectItem(row, "evidence"), "frame_indices")) == 2);
		FO_CHECK(cJSON_GetObjectItem(row, "processing_time") == NULL);
		cJSON_Delete(row);
	}
	fo_anomaly_json_free(&a);
	FO_CHECK(a.row == NULL);
	fo_anomaly_json_free(&a); /* twice is harmless */

	/* what the detectors produce is accepted as is */
	fo_anomaly an = {.rule = FO_RULE_HARD_BRAKING,
	                 .type = FO_AT_SUDDEN_DECELERATION,
	                 .severity = FO_SEV_WARNING,
	                 .scene = 3,
	                 .frame = 20,
	                 .track = 9,
	                 .ts_ns = 1571846881502000000LL,
	                 .nfeatures = 1,
	                 .nthresholds = 1,
	                 .nevidence = 2,
	                 .features = {{"decel_mps2", 4.5}},
	                 .thresholds = {{"decel_mps2", 4.0}},
	                 .ev_frame = {19, 20},
	                 .ev_speed = {10.0f, 9.5f},
	                 .ev_accel = {0.0f, -4.5f}};
	fo_uuid eid;
	fo_uuid5(&eid, &fo_uuid_ns_fleetops, "e", 1);
	char buf[FO_ANOMALY_JSON_MAX], key[64];
	size_t klen;
	size_t len =
	    fo_anomaly_encode(&an, &eid, "2026-01-01T00:00:00.000Z", buf, sizeof(buf), key, &klen);
	FO_CHECK(len > 0);
	FO_CHECK_MSG(fo_anomaly_json_parse(buf, len, &a, err, sizeof(err)) == 0, "%s", err);
	FO_CHECK_STR(a.vehicle_id, "scene_003_track_9");
	FO_CHECK_STR(a.severity, "WARNING");
	fo_uuid aid;
	char aids[40];
	fo_anomaly_id(&eid, FO_RULE_HARD_BRAKING, &aid);
	fo_uuid_format(&aid, aids);
	FO_CHECK_STR(a.anomaly_id, aids);
	fo_anomaly_json_free(&a);

	/* refused, naming the field */
	FO_CHECK(fo_anomaly_json_parse("[1]", 3, &a, err, sizeof(err)) < 0 &&
	         strstr(err, "not a JSON object"));
	FO_CHECK(fo_anomaly_json_parse("", 0, &a, err, sizeof(err)) < 0 && strstr(err, "not JSON"));
	FO_CHECK(fo_anomaly_json_parse("{} {}", 5, &a, err, sizeof(err)) < 0 &&
	         strstr(err, "bytes after"));
	FO_CHECK(fo_anomaly_json_parse(good, strlen(good) - 1, &a, err, sizeof(err)) < 0 &&
	         strstr(err, "not JSON"));
	FO_CHECK(bad("}}", "}", "not JSON"));
	FO_CHECK(bad("\"1.0.0\"", "\"2.0.0\"", "event_version"));
	FO_CHECK(bad("\"0b7c2f5e-1d1e", "\"0b7c2f5e-xd1e", "anomaly_id"));
	FO_CHECK(bad("\"anomaly_id\"", "\"anomaly\"", "anomaly_id is missing"));
	FO_CHECK(bad("\"f3353f91-4ce4-50f2-8192-a7278dce660f\"", "42", "event_id is not a string"));
	FO_CHECK(bad("\"scene_000_ego\"", "\"\"", "vehicle_id"));
	FO_CHECK(bad("\"dropout\"", "\"wobble\"", "anomaly_type"));
	FO_CHECK(bad("\"CRITICAL\"", "\"critical\"", "severity"));
	FO_CHECK(bad("\"track_dropout\"", "\"\"", "triggered_rule"));
	FO_CHECK(bad("2019-10-23T16:08:01.502Z", "2019-02-30T16:08:01.502Z", "event_time"));
	FO_CHECK(bad("{\"gap_s\":1.5}", "{\"gap_s\":\"x\"}", "features.gap_s"));
	FO_CHECK(bad("{\"gap_s\":1.0}", "[1.0]", "thresholds"));
	FO_CHECK(bad("\"evidence\"", "\"evidences\"", "evidence is missing"));
	char longid[200];
	memset(longid, 'v', sizeof(longid) - 1);
	longid[0] = '"';
	longid[FO_ANOMALY_VEHICLE_MAX + 2] = '"';
	longid[FO_ANOMALY_VEHICLE_MAX + 3] = '\0';
	FO_CHECK(bad("\"scene_000_ego\"", longid, "vehicle_id"));

	/* event_time */
	FO_CHECK(fo_anomaly_json_time_ok("2019-10-23T16:08:01.502Z"));
	FO_CHECK(fo_anomaly_json_time_ok("2019-10-23T16:08:01Z"));
	FO_CHECK(fo_anomaly_json_time_ok("2020-02-29T23:59:59.999999Z"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-02-29T00:00:00.000Z"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-13-01T00:00:00.000Z"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-10-23T24:00:00.000Z"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-10-23T16:08:01.502"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-10-23T16:08:01.Z"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-10-23T16:08:01.1234567Z"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-10-23 16:08:01.502Z"));
	FO_CHECK(!fo_anomaly_json_time_ok("2019-10-23T16:08:01.502+01:00"));
	return fo_test_done("test_anomaly_json");
}
