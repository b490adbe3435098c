/*
 * anomaly_json: see anomaly_json.h. The checks mirror the alerts table's
 * types and CHECK constraints (ops/migrations/0001_init.sql).
 */
#include "anomaly_json.h"

#include "errbuf.h"
#include "uuid5.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fo_anomaly_types[] = {"sudden_deceleration", "perception_instability",
                                               "dropout"};
static const char *const fo_severities[] = {"INFO", "WARNING", "CRITICAL"};

static int fo_one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

static int fo_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 1;
}

int fo_anomaly_json_time_ok(const char *s)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec;
	if (strlen(s) < 20 || !fo_digits(s, 4, &y) || s[4] != '-' || !fo_digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !fo_digits(s + 8, 2, &d) || s[10] != 'T' || !fo_digits(s + 11, 2, &h) ||
	    s[13] != ':' || !fo_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !fo_digits(s + 17, 2, &sec))
		return 0;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 59)
		return 0;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return 0;
	const char *p = s + 19;
	if (*p == '.') {
		int nf = 0;
		for (p++; *p >= '0' && *p <= '9'; p++)
			nf++;
		if (nf < 1 || nf > 6)
			return 0;
	}
	return p[0] == 'Z' && p[1] == '\0';
}

/* The string member key of o, or NULL with err. */
static const char *fo_str(const cJSON *o, const char *key, char *err, size_t errsz)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!it) {
		fo_errf(err, errsz, "AnomalyEvent: %s is missing", key);
		return NULL;
	}
	if (!cJSON_IsString(it) || !it->valuestring) {
		fo_errf(err, errsz, "AnomalyEvent: %s is not a string", key);
		return NULL;
	}
	return it->valuestring;
}

static const char *fo_uuid_str(const cJSON *o, const char *key, char *err, size_t errsz)
{
	const char *s = fo_str(o, key, err, errsz);
	fo_uuid u;
	if (s && (strlen(s) != FO_UUID_STR_LEN || fo_uuid_parse(&u, s) < 0)) {
		fo_errf(err, errsz, "AnomalyEvent: %s \"%.40s\" is not a UUID", key, s);
		return NULL;
	}
	return s;
}

/* An object whose members are all finite numbers (features, thresholds). */
static int fo_numbers(const cJSON *o, const char *key, char *err, size_t errsz)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key), *m;
	if (!cJSON_IsObject(it)) {
		fo_errf(err, errsz, "AnomalyEvent: %s is %s, expected an object", key,
		        it ? "not an object" : "missing");
		return -1;
	}
	cJSON_ArrayForEach(m, it)
	{
		if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble)) {
			fo_errf(err, errsz, "AnomalyEvent: %s.%s is not a number", key,
			        m->string ? m->string : "?");
			return -1;
		}
	}
	return 0;
}

int fo_anomaly_json_parse(const char *buf, size_t len, fo_anomaly_json *a, char *err, size_t errsz)
{
	memset(a, 0, sizeof(*a));
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (!root) {
		fo_errf(err, errsz, "AnomalyEvent: not JSON (near byte %zu)",
		        end && end >= buf ? (size_t)(end - buf) : (size_t)0);
		return -1;
	}
	int rc = -1;
	cJSON *row = NULL;
	size_t used = (size_t)(end - buf);
	while (used < len &&
	       (buf[used] == ' ' || buf[used] == '\n' || buf[used] == '\r' || buf[used] == '\t'))
		used++;
	if (used < len) {
		fo_errf(err, errsz, "AnomalyEvent: not JSON (bytes after the value at byte %zu)",
		        used);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		fo_errf(err, errsz, "AnomalyEvent: not a JSON object");
		goto out;
	}
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "event_version");
	if (ver && (!cJSON_IsString(ver) || strncmp(ver->valuestring, "1.", 2) != 0)) {
		fo_errf(err, errsz, "AnomalyEvent: event_version %s is not 1.x",
		        cJSON_IsString(ver) ? ver->valuestring : "(not a string)");
		goto out;
	}
	const char *aid, *eid, *vid, *type, *sev, *rule, *etime;
	if (!(aid = fo_uuid_str(root, "anomaly_id", err, errsz)) ||
	    !(eid = fo_uuid_str(root, "event_id", err, errsz)) ||
	    !(vid = fo_str(root, "vehicle_id", err, errsz)) ||
	    !(type = fo_str(root, "anomaly_type", err, errsz)) ||
	    !(sev = fo_str(root, "severity", err, errsz)) ||
	    !(rule = fo_str(root, "triggered_rule", err, errsz)) ||
	    !(etime = fo_str(root, "event_time", err, errsz)))
		goto out;
	size_t vlen = strlen(vid);
	if (vlen == 0 || vlen > FO_ANOMALY_VEHICLE_MAX) {
		fo_errf(err, errsz, "AnomalyEvent: vehicle_id must be 1..%d bytes, not %zu",
		        FO_ANOMALY_VEHICLE_MAX, vlen);
		goto out;
	}
	if (!fo_one_of(type, fo_anomaly_types, 3)) {
		fo_errf(err, errsz,
		        "AnomalyEvent: anomaly_type \"%.40s\" is not sudden_deceleration, "
		        "perception_instability or dropout",
		        type);
		goto out;
	}
	if (!fo_one_of(sev, fo_severities, 3)) {
		fo_errf(err, errsz,
		        "AnomalyEvent: severity \"%.40s\" is not INFO, WARNING or CRITICAL", sev);
		goto out;
	}
	if (rule[0] == '\0' || strlen(rule) > 64) {
		fo_errf(err, errsz, "AnomalyEvent: triggered_rule must be 1..64 bytes");
		goto out;
	}
	if (!fo_anomaly_json_time_ok(etime)) {
		fo_errf(err, errsz,
		        "AnomalyEvent: event_time \"%.40s\" is not ISO-8601 UTC "
		        "(YYYY-MM-DDTHH:MM:SS.sssZ)",
		        etime);
		goto out;
	}
	if (fo_numbers(root, "features", err, errsz) < 0 ||
	    fo_numbers(root, "thresholds", err, errsz) < 0)
		goto out;
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "evidence");
	if (!cJSON_IsObject(ev)) {
		fo_errf(err, errsz, "AnomalyEvent: evidence is %s, expected an object",
		        ev ? "not an object" : "missing");
		goto out;
	}

	row = cJSON_CreateObject();
	if (!row || !cJSON_AddStringToObject(row, "anomaly_id", aid) ||
	    !cJSON_AddStringToObject(row, "event_id", eid) ||
	    !cJSON_AddStringToObject(row, "vehicle_id", vid) ||
	    !cJSON_AddStringToObject(row, "severity", sev) ||
	    !cJSON_AddStringToObject(row, "anomaly_type", type) ||
	    !cJSON_AddStringToObject(row, "triggered_rule", rule) ||
	    !cJSON_AddStringToObject(row, "event_time", etime)) {
		fo_errf(err, errsz, "AnomalyEvent: out of memory");
		goto out;
	}
	cJSON_AddItemToObject(row, "features",
	                      cJSON_DetachItemFromObjectCaseSensitive(root, "features"));
	cJSON_AddItemToObject(row, "thresholds",
	                      cJSON_DetachItemFromObjectCaseSensitive(root, "thresholds"));
	cJSON_AddItemToObject(row, "evidence",
	                      cJSON_DetachItemFromObjectCaseSensitive(root, "evidence"));
	a->row = cJSON_PrintUnformatted(row);
	if (!a->row) {
		fo_errf(err, errsz, "AnomalyEvent: out of memory");
		goto out;
	}
	a->row_len = strlen(a->row);
	memcpy(a->anomaly_id, aid, FO_UUID_STR_LEN + 1);
	memcpy(a->vehicle_id, vid, vlen + 1);
	snprintf(a->severity, sizeof(a->severity), "%s", sev);
	rc = 0;
out:
	cJSON_Delete(row);
	cJSON_Delete(root);
	return rc;
}

void fo_anomaly_json_free(fo_anomaly_json *a)
{
	if (a && a->row) {
		cJSON_free(a->row);
		a->row = NULL;
		a->row_len = 0;
	}
}
