/*
 * thresholds: see thresholds.h. The table below is the one list of names:
 * loading, saving and the defaults all go through it.
 */
#include "thresholds.h"

#include "timefmt.h"

#include "jsonfile.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct fo_thr_field {
	const char *name;
	size_t off;
	int is_u32;
	double lo, hi, def;
} fo_thr_field;

#define FO_D(n, lo, hi, def)                                                                       \
	{                                                                                          \
#n, offsetof(fo_thresholds, n), 0, lo, hi, def                                     \
	}
#define FO_U(n, lo, hi, def)                                                                       \
	{                                                                                          \
#n, offsetof(fo_thresholds, n), 1, lo, hi, def                                     \
	}

static const fo_thr_field fo_thr_fields[] = {
    FO_D(decel_accel, 0, 1000, 3.0),
    FO_D(decel_dv, -1000, 0, -5.0),
    FO_D(decel_critical, 0, 1000, 5.0),
    FO_U(decel_window, 2, 10, 5),
    FO_D(label_drop, 0, 1, 0.2),
    FO_D(position_jump, 0, 1000, 2.0),
    FO_D(yaw_jump, 0, 7, 0.5),
    FO_D(yaw_min_speed, 0, 100, 0.0),
    FO_U(perception_window, 2, 10, 3),
    FO_U(dropout_frames, 1, 1000, 3),
    FO_U(scene_agent_drop, 0, 100000, 5),
    FO_U(cooldown_frames, 0, 100000, 20),
    FO_U(min_track_length, 1, 1000, 2),
};

#define FO_NFIELDS (sizeof(fo_thr_fields) / sizeof(fo_thr_fields[0]))

static void fo_thr_set(fo_thresholds *th, const fo_thr_field *f, double v)
{
	char *p = (char *)th + f->off;
	if (f->is_u32) {
		uint32_t u = (uint32_t)v;
		memcpy(p, &u, sizeof(u));
	} else {
		memcpy(p, &v, sizeof(v));
	}
}

static double fo_thr_get(const fo_thresholds *th, const fo_thr_field *f)
{
	const char *p = (const char *)th + f->off;
	if (f->is_u32) {
		uint32_t u;
		memcpy(&u, p, sizeof(u));
		return u;
	}
	double v;
	memcpy(&v, p, sizeof(v));
	return v;
}

void fo_thresholds_default(fo_thresholds *th)
{
	memset(th, 0, sizeof(*th));
	for (size_t i = 0; i < FO_NFIELDS; i++)
		fo_thr_set(th, &fo_thr_fields[i], fo_thr_fields[i].def);
	snprintf(th->source, sizeof(th->source), "defaults");
}

int fo_thresholds_load(fo_thresholds *th, const char *path, char *err, size_t errsz)
{
	cJSON *j = fo_json_load_file(path, err, errsz);
	if (!j)
		return -1;
	const cJSON *vals = j ? cJSON_GetObjectItemCaseSensitive(j, "values") : NULL;
	if (!cJSON_IsObject(vals)) {
		snprintf(err, errsz, "%s: %s", path,
		         "expected an object \"values\" of threshold names and numbers");
		cJSON_Delete(j);
		return -1;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, vals)
	{
		const fo_thr_field *fd = NULL;
		for (size_t i = 0; i < FO_NFIELDS; i++)
			if (strcmp(fo_thr_fields[i].name, it->string) == 0)
				fd = &fo_thr_fields[i];
		if (!fd) {
			snprintf(err, errsz, "%s: values.%s is not a known threshold", path,
			         it->string);
			cJSON_Delete(j);
			return -1;
		}
		if (!cJSON_IsNumber(it) ||
		    !(it->valuedouble >= fd->lo && it->valuedouble <= fd->hi) ||
		    (fd->is_u32 && it->valuedouble != floor(it->valuedouble))) {
			snprintf(err, errsz, "%s: values.%s must be a%s number in [%g, %g]", path,
			         it->string, fd->is_u32 ? "n integer" : "", fd->lo, fd->hi);
			cJSON_Delete(j);
			return -1;
		}
		fo_thr_set(th, fd, it->valuedouble);
	}
	const cJSON *s;
	if (cJSON_IsString(s = cJSON_GetObjectItemCaseSensitive(j, "dataset")))
		snprintf(th->dataset, sizeof(th->dataset), "%s", s->valuestring);
	if (cJSON_IsString(s = cJSON_GetObjectItemCaseSensitive(j, "calibrated_at")))
		snprintf(th->calibrated_at, sizeof(th->calibrated_at), "%s", s->valuestring);
	if (cJSON_IsNumber(s = cJSON_GetObjectItemCaseSensitive(j, "percentile")))
		th->percentile = s->valuedouble;
	snprintf(th->source, sizeof(th->source), "%s", path);
	cJSON_Delete(j);
	return 0;
}

int fo_thresholds_save(const fo_thresholds *th, const char *path, const char *extra, char *err,
                       size_t errsz)
{
	cJSON *j = cJSON_CreateObject();
	char now[FO_ISO8601_LEN + 1];
	fo_time_iso8601(fo_time_wall_ns(), now);
	cJSON_AddStringToObject(j, "generator", "fleetops-calibrate");
	cJSON_AddStringToObject(j, "dataset", th->dataset);
	cJSON_AddStringToObject(j, "calibrated_at", th->calibrated_at[0] ? th->calibrated_at : now);
	cJSON_AddNumberToObject(j, "percentile", th->percentile);
	cJSON *vals = cJSON_AddObjectToObject(j, "values");
	for (size_t i = 0; i < FO_NFIELDS; i++)
		cJSON_AddNumberToObject(vals, fo_thr_fields[i].name,
		                        fo_thr_get(th, &fo_thr_fields[i]));
	if (extra) {
		cJSON *x = cJSON_Parse(extra);
		if (x)
			cJSON_AddItemToObject(j, "derivation", x);
	}
	char *text = cJSON_Print(j);
	cJSON_Delete(j);
	FILE *f = fopen(path, "w");
	int ok = f && text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
	if (f && fclose(f) != 0)
		ok = 0;
	cJSON_free(text);
	if (!ok) {
		snprintf(err, errsz, "%s: cannot write: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
