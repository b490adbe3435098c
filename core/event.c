/*
 * event: see event.h. Field order and decimals are fixed so the same input
 * always gives the same bytes; decimals keep 0.1 mm / 0.1 mm/s / 1e-6 rad,
 * well below the float32 resolution of the source arrays at L5Kit scales.
 */
#include "event.h"

#include "json.h"

#include <string.h>

void fo_replay_meta_init(fo_replay_meta *m, const fo_uuid *session, double replay_rate)
{
	m->session = *session;
	fo_uuid_format(session, m->session_str);
	m->replay_rate = replay_rate;
}

void fo_event_id(const fo_replay_meta *m, const char *vehicle_id, size_t vid_len, uint32_t frame,
                 fo_uuid *out)
{
	char name[FO_VEHICLE_ID_MAX + 16];
	memcpy(name, vehicle_id, vid_len);
	size_t n = vid_len;
	name[n++] = ':';
	n += fo_fmt_u64(name + n, frame);
	fo_uuid5(out, &m->session, name, n);
}

static void fo_jw_vec3(fo_jw *jw, const double v[3], int dec)
{
	fo_jw_lit(jw, "{\"x\":");
	fo_jw_fixed(jw, v[0], dec);
	fo_jw_lit(jw, ",\"y\":");
	fo_jw_fixed(jw, v[1], dec);
	fo_jw_lit(jw, ",\"z\":");
	fo_jw_fixed(jw, v[2], dec);
}

size_t fo_event_encode_telemetry(const fo_telemetry *t, const fo_replay_meta *m,
                                 const char *processing_time, char *buf, size_t cap,
                                 fo_event_out *out)
{
	out->key_len = (size_t)fo_vehicle_id_format(out->key, t->scene, t->track);
	/* the scene id is the vehicle id up to "_ego" / "_track_" */
	const char *scene_id = out->key;
	size_t scene_len = (size_t)(strchr(out->key + 6, '_') - out->key);
	fo_event_id(m, out->key, out->key_len, t->frame, &out->event_id);
	char id[FO_UUID_STR_LEN + 1];
	fo_uuid_format(&out->event_id, id);
	/* consecutive events mostly share a frame: format its time once */
	static _Thread_local int64_t last_ts = INT64_MIN;
	static _Thread_local char event_time[FO_ISO8601_LEN + 1];
	if (t->ts_ns != last_ts) {
		fo_time_iso8601(t->ts_ns, event_time);
		last_ts = t->ts_ns;
	}

	fo_jw jw;
	fo_jw_init(&jw, buf, cap);
	fo_jw_lit(&jw, "{\"event_version\":\"" FO_EVENT_VERSION "\",\"event_id\":\"");
	fo_jw_raw(&jw, id, FO_UUID_STR_LEN);
	fo_jw_lit(&jw, "\",\"vehicle_id\":\"");
	fo_jw_raw(&jw, out->key, out->key_len);
	fo_jw_lit(&jw, "\",\"scene_id\":\"");
	fo_jw_raw(&jw, scene_id, scene_len);
	fo_jw_lit(&jw, "\",\"track_id\":");
	if (t->track == FO_TRACK_EGO)
		fo_jw_lit(&jw, "null");
	else
		fo_jw_u64(&jw, t->track);
	fo_jw_lit(&jw, ",\"event_time\":\"");
	fo_jw_raw(&jw, event_time, FO_ISO8601_LEN);
	fo_jw_lit(&jw, "\",\"processing_time\":\"");
	fo_jw_raw(&jw, processing_time, FO_ISO8601_LEN);
	fo_jw_lit(&jw, "\",\"frame_index\":");
	fo_jw_u64(&jw, t->frame);
	fo_jw_lit(&jw, ",\"telemetry\":{\"position\":");
	fo_jw_vec3(&jw, t->pos, 4);
	fo_jw_lit(&jw, "},\"velocity\":");
	fo_jw_vec3(&jw, t->vel, 4);
	fo_jw_lit(&jw, ",\"magnitude\":");
	fo_jw_fixed(&jw, t->vel_mag, 4);
	fo_jw_lit(&jw, "},\"acceleration\":");
	fo_jw_vec3(&jw, t->acc, 4);
	fo_jw_lit(&jw, ",\"magnitude\":");
	fo_jw_fixed(&jw, t->acc_mag, 4);
	fo_jw_lit(&jw, "},\"yaw\":");
	fo_jw_fixed(&jw, t->yaw, 6);
	fo_jw_lit(&jw, ",\"yaw_rate\":");
	fo_jw_fixed(&jw, t->yaw_rate, 6);
	fo_jw_lit(&jw, ",\"label_probability\":");
	fo_jw_fixed(&jw, t->label_probability, 6);
	fo_jw_lit(&jw, ",\"track_length\":");
	fo_jw_u64(&jw, t->track_length);
	fo_jw_lit(&jw, "},\"metadata\":{\"replay_session_id\":\"");
	fo_jw_raw(&jw, m->session_str, FO_UUID_STR_LEN);
	fo_jw_lit(&jw, "\",\"replay_rate\":");
	fo_jw_fixed(&jw, m->replay_rate, 3);
	if (t->frame_agents != FO_AGENTS_UNKNOWN) { /* the ego: its frame's agents */
		fo_jw_lit(&jw, ",\"frame_agents\":");
		fo_jw_u64(&jw, t->frame_agents);
	}
	fo_jw_lit(&jw, "}}");
	return jw.overflow ? 0 : jw.len;
}
