/*
 * anomaly: names and the AnomalyEvent encoder (see anomaly.h).
 */
#include "anomaly.h"

#include "event.h"
#include "json.h"
#include "telemetry.h"
#include "timefmt.h"

#include <string.h>

static const char *const fo_type_names[FO_AT_COUNT] = {"sudden_deceleration",
                                                       "perception_instability", "dropout"};
static const char *const fo_sev_names[] = {"INFO", "WARNING", "CRITICAL"};
static const char *const fo_rule_names[FO_RULE_COUNT] = {
    "hard_braking", "label_drop", "position_jump", "yaw_jump", "track_dropout", "scene_agent_drop",
};
static const fo_anomaly_type fo_rule_types[FO_RULE_COUNT] = {
    FO_AT_SUDDEN_DECELERATION,
    FO_AT_PERCEPTION_INSTABILITY,
    FO_AT_PERCEPTION_INSTABILITY,
    FO_AT_PERCEPTION_INSTABILITY,
    FO_AT_DROPOUT,
    FO_AT_DROPOUT,
};

const char *fo_anomaly_type_name(fo_anomaly_type t)
{
	return (unsigned)t < FO_AT_COUNT ? fo_type_names[t] : "?";
}

const char *fo_severity_name(fo_severity s)
{
	return (unsigned)s <= FO_SEV_CRITICAL ? fo_sev_names[s] : "?";
}

const char *fo_rule_name(fo_rule r)
{
	return (unsigned)r < FO_RULE_COUNT ? fo_rule_names[r] : "?";
}

fo_anomaly_type fo_rule_type(fo_rule r)
{
	return fo_rule_types[r];
}

void fo_anomaly_id(const fo_uuid *event_id, fo_rule r, fo_uuid *out)
{
	const char *n = fo_rule_name(r);
	fo_uuid5(out, event_id, n, strlen(n));
}

static void fo_jw_named(fo_jw *jw, const fo_named *v, int n)
{
	fo_jw_char(jw, '{');
	for (int i = 0; i < n; i++) {
		if (i)
			fo_jw_char(jw, ',');
		fo_jw_str(jw, v[i].name, strlen(v[i].name));
		fo_jw_char(jw, ':');
		fo_jw_fixed(jw, v[i].value, 4);
	}
	fo_jw_char(jw, '}');
}

size_t fo_anomaly_encode(const fo_anomaly *a, const fo_uuid *event_id, const char *processing_time,
                         char *buf, size_t cap, char *key, size_t *key_len)
{
	*key_len = (size_t)fo_vehicle_id_format(key, a->scene, a->track);
	fo_uuid aid;
	fo_anomaly_id(event_id, a->rule, &aid);
	char ids[2][FO_UUID_STR_LEN + 1];
	fo_uuid_format(&aid, ids[0]);
	fo_uuid_format(event_id, ids[1]);
	char et[FO_ISO8601_LEN + 1];
	fo_time_iso8601(a->ts_ns, et);

	fo_jw jw;
	fo_jw_init(&jw, buf, cap);
	fo_jw_lit(&jw, "{\"event_version\":\"" FO_EVENT_VERSION "\",\"anomaly_id\":\"");
	fo_jw_raw(&jw, ids[0], FO_UUID_STR_LEN);
	fo_jw_lit(&jw, "\",\"event_id\":\"");
	fo_jw_raw(&jw, ids[1], FO_UUID_STR_LEN);
	fo_jw_lit(&jw, "\",\"vehicle_id\":\"");
	fo_jw_raw(&jw, key, *key_len);
	fo_jw_lit(&jw, "\",\"event_time\":\"");
	fo_jw_raw(&jw, et, FO_ISO8601_LEN);
	fo_jw_lit(&jw, "\",\"processing_time\":\"");
	fo_jw_raw(&jw, processing_time, FO_ISO8601_LEN);
	fo_jw_lit(&jw, "\",\"anomaly_type\":\"");
	fo_jw_cstr(&jw, fo_anomaly_type_name(a->type));
	fo_jw_lit(&jw, "\",\"severity\":\"");
	fo_jw_cstr(&jw, fo_severity_name(a->severity));
	fo_jw_lit(&jw, "\",\"triggered_rule\":\"");
	fo_jw_cstr(&jw, fo_rule_name(a->rule));
	fo_jw_lit(&jw, "\",\"frame_index\":");
	fo_jw_u64(&jw, a->frame);
	fo_jw_lit(&jw, ",\"features\":");
	fo_jw_named(&jw, a->features, a->nfeatures);
	fo_jw_lit(&jw, ",\"thresholds\":");
	fo_jw_named(&jw, a->thresholds, a->nthresholds);
	fo_jw_lit(&jw, ",\"evidence\":{\"frame_indices\":[");
	for (int i = 0; i < a->nevidence; i++) {
		if (i)
			fo_jw_char(&jw, ',');
		fo_jw_u64(&jw, a->ev_frame[i]);
	}
	fo_jw_lit(&jw, "],\"velocity_history\":[");
	for (int i = 0; i < a->nevidence; i++) {
		if (i)
			fo_jw_char(&jw, ',');
		fo_jw_fixed(&jw, a->ev_speed[i], 3);
	}
	fo_jw_lit(&jw, "],\"acceleration_history\":[");
	for (int i = 0; i < a->nevidence; i++) {
		if (i)
			fo_jw_char(&jw, ',');
		fo_jw_fixed(&jw, a->ev_accel[i], 3);
	}
	fo_jw_lit(&jw, "]}}");
	return jw.overflow ? 0 : jw.len;
}
