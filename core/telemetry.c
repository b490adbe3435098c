/*
 * telemetry: see telemetry.h. The definitions follow DESIGN.md exactly;
 * tests/core/test_telemetry.c checks them against hand-computed values.
 */
#include "telemetry.h"

#include "json.h"

#include <math.h>
#include <string.h>

double fo_wrap_pi(double a)
{
	if (a >= -M_PI && a < M_PI)
		return a;
	a = fmod(a + M_PI, 2.0 * M_PI);
	if (a < 0)
		a += 2.0 * M_PI;
	return a - M_PI;
}

static double fo_norm3(const double v[3])
{
	return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

void fo_telemetry_derive(fo_track *tr, const fo_obs *o, fo_telemetry *t)
{
	const int ego = o->track == FO_TRACK_EGO;
	const int first = tr->count == 0;
	double dt = first ? 0.0 : (double)(o->ts_ns - tr->ts_ns) * 1e-9;
	const int have_dt = !first && dt > 0.0;

	t->scene = o->scene;
	t->frame = o->frame;
	t->track = o->track;
	t->ts_ns = o->ts_ns;
	memcpy(t->pos, o->pos, sizeof(t->pos));
	t->yaw = o->yaw;
	t->label_probability = o->label_probability;
	t->track_length = tr->count + 1;
	t->frame_agents = FO_AGENTS_UNKNOWN;

	if (ego) {
		for (int i = 0; i < 3; i++)
			t->vel[i] = have_dt ? (o->pos[i] - tr->pos[i]) / dt : 0.0;
	} else {
		t->vel[0] = o->vel[0];
		t->vel[1] = o->vel[1];
		t->vel[2] = 0.0;
	}
	/* the ego's velocity exists only from its second frame, so its
	 * acceleration only from the third */
	const int have_acc = have_dt && !(ego && tr->count < 2);
	for (int i = 0; i < 3; i++)
		t->acc[i] = have_acc ? (t->vel[i] - tr->vel[i]) / dt : 0.0;
	t->yaw_rate = have_dt ? fo_wrap_pi(o->yaw - tr->yaw) / dt : 0.0;
	t->vel_mag = fo_norm3(t->vel);
	t->acc_mag = fo_norm3(t->acc);

	tr->ts_ns = o->ts_ns;
	memcpy(tr->pos, o->pos, sizeof(tr->pos));
	memcpy(tr->vel, t->vel, sizeof(tr->vel));
	tr->yaw = o->yaw;
	tr->count++;
}

int fo_scene_id_format(char *out, uint32_t scene)
{
	memcpy(out, "scene_", 6);
	int n = 6;
	if (scene < 100) /* at least three digits */
		out[n++] = '0';
	if (scene < 10)
		out[n++] = '0';
	n += (int)fo_fmt_u64(out + n, scene);
	out[n] = '\0';
	return n;
}

int fo_vehicle_id_format(char *out, uint32_t scene, uint64_t track)
{
	int n = fo_scene_id_format(out, scene);
	if (track == FO_TRACK_EGO) {
		memcpy(out + n, "_ego", 5);
		return n + 4;
	}
	memcpy(out + n, "_track_", 7);
	n += 7;
	n += (int)fo_fmt_u64(out + n, track);
	out[n] = '\0';
	return n;
}
