/*
 * detector: see detector.h. History is a ring of FO_EVIDENCE_MAX entries;
 * entry k back from the newest is h[(head - 1 - k) mod N].
 */
#include "detector.h"

#include <math.h>
#include <string.h>

static inline const fo_vobs *fo_back(const fo_vdet *v, unsigned k)
{
	return &v->h[(v->head + FO_EVIDENCE_MAX - 1 - k) % FO_EVIDENCE_MAX];
}

void fo_detect_features(const fo_thresholds *th, const fo_vdet *v, const fo_telemetry *t,
                        fo_features *f)
{
	f->accel = t->acc_mag;
	f->dv = f->label_drop = f->position_jump = f->yaw_jump = f->frames_unseen = NAN;
	if (v->n == 0)
		return;
	const fo_vobs *prev = fo_back(v, 0);
	uint32_t gap = t->frame > prev->frame ? t->frame - prev->frame : 0;
	f->frames_unseen = gap ? gap - 1 : 0;

	/* speed change against the oldest observation within the window */
	const fo_vobs *old = NULL;
	for (unsigned k = 0; k < v->n; k++) {
		const fo_vobs *o = fo_back(v, k);
		if (t->frame - o->frame > th->decel_window || o->frame > t->frame)
			break;
		old = o;
	}
	if (old)
		f->dv = t->vel_mag - old->speed;

	/* label drop against the best of the previous window-1 frames */
	double best = -1;
	for (unsigned k = 0; k < v->n; k++) {
		const fo_vobs *o = fo_back(v, k);
		if (t->frame - o->frame >= th->perception_window || o->frame > t->frame)
			break;
		if (o->label > best)
			best = o->label;
	}
	if (best >= 0)
		f->label_drop = best - t->label_probability;

	double dt = (double)(t->ts_ns - prev->ts_ns) * 1e-9;
	if (dt > 0 && gap <= th->perception_window) {
		double px = prev->x + prev->vx * dt, py = prev->y + prev->vy * dt;
		double dx = t->pos[0] - px, dy = t->pos[1] - py;
		f->position_jump = sqrt(dx * dx + dy * dy); /* no overflow at these scales */
	}
	if (gap == 1)
		f->yaw_jump = fabs(fo_wrap_pi(t->yaw - prev->yaw));
}

static fo_anomaly *fo_raise(fo_anomaly *a, fo_rule r, fo_severity sev, const fo_telemetry *t)
{
	memset(a, 0, sizeof(*a));
	a->rule = r;
	a->type = fo_rule_type(r);
	a->severity = sev;
	a->scene = t->scene;
	a->frame = t->frame;
	a->track = t->track;
	a->ts_ns = t->ts_ns;
	return a;
}

static void fo_feat(fo_anomaly *a, const char *name, double v)
{
	if (a->nfeatures < FO_ANOMALY_MAX_FEATURES)
		a->features[a->nfeatures++] = (fo_named){name, v};
}

static void fo_thr(fo_anomaly *a, const char *name, double v)
{
	if (a->nthresholds < FO_ANOMALY_MAX_THRESHOLDS)
		a->thresholds[a->nthresholds++] = (fo_named){name, v};
}

void fo_detect_record(fo_vdet *v, const fo_telemetry *t)
{
	fo_vobs *o = &v->h[v->head];
	o->ts_ns = t->ts_ns;
	o->x = t->pos[0];
	o->y = t->pos[1];
	o->vx = (float)t->vel[0];
	o->vy = (float)t->vel[1];
	o->speed = (float)t->vel_mag;
	o->accel = (float)t->acc_mag;
	o->yaw = (float)t->yaw;
	o->label = (float)t->label_probability;
	o->frame = t->frame;
	v->head = (uint8_t)((v->head + 1) % FO_EVIDENCE_MAX);
	if (v->n < FO_EVIDENCE_MAX)
		v->n++;
}

int fo_detect(const fo_thresholds *th, fo_vdet *v, const fo_telemetry *t, uint32_t frame_agents,
              fo_anomaly *out)
{
	fo_features f;
	fo_detect_features(th, v, t, &f);
	int n = 0;
	const int settled = t->track_length >= th->min_track_length;

	if (f.frames_unseen > th->dropout_frames) {
		fo_anomaly *a = fo_raise(&out[n++], FO_RULE_TRACK_DROPOUT, FO_SEV_INFO, t);
		fo_feat(a, "frames_unseen", f.frames_unseen);
		fo_feat(a, "last_seen_frame", fo_back(v, 0)->frame);
		fo_thr(a, "dropout_frames", th->dropout_frames);
	}
	if (settled && f.accel > th->decel_accel && f.dv < th->decel_dv) {
		fo_anomaly *a =
		    fo_raise(&out[n++], FO_RULE_HARD_BRAKING,
		             f.accel >= th->decel_critical ? FO_SEV_CRITICAL : FO_SEV_WARNING, t);
		fo_feat(a, "acceleration_magnitude", f.accel);
		fo_feat(a, "velocity_delta", f.dv);
		fo_feat(a, "speed", t->vel_mag);
		fo_feat(a, "window_frames", th->decel_window);
		fo_thr(a, "decel_accel", th->decel_accel);
		fo_thr(a, "decel_dv", th->decel_dv);
		fo_thr(a, "decel_critical", th->decel_critical);
	}
	if (settled && f.label_drop > th->label_drop) {
		fo_anomaly *a = fo_raise(&out[n++], FO_RULE_LABEL_DROP, FO_SEV_WARNING, t);
		fo_feat(a, "label_drop", f.label_drop);
		fo_feat(a, "label_probability", t->label_probability);
		fo_thr(a, "label_drop", th->label_drop);
	}
	if (settled && f.position_jump > th->position_jump) {
		fo_anomaly *a = fo_raise(&out[n++], FO_RULE_POSITION_JUMP, FO_SEV_WARNING, t);
		fo_feat(a, "position_jump", f.position_jump);
		fo_feat(a, "speed", t->vel_mag);
		fo_thr(a, "position_jump", th->position_jump);
	}
	if (settled && f.yaw_jump > th->yaw_jump && t->vel_mag >= th->yaw_min_speed) {
		fo_anomaly *a = fo_raise(&out[n++], FO_RULE_YAW_JUMP, FO_SEV_WARNING, t);
		fo_feat(a, "yaw_jump", f.yaw_jump);
		fo_feat(a, "yaw_rate", t->yaw_rate);
		fo_thr(a, "yaw_jump", th->yaw_jump);
	}
	if (frame_agents != FO_AGENTS_UNKNOWN) {
		if (v->have_agents && v->agents > frame_agents &&
		    v->agents - frame_agents > th->scene_agent_drop) {
			fo_anomaly *a =
			    fo_raise(&out[n++], FO_RULE_SCENE_AGENT_DROP, FO_SEV_WARNING, t);
			fo_feat(a, "agents_before", v->agents);
			fo_feat(a, "agents_now", frame_agents);
			fo_feat(a, "agents_lost", v->agents - frame_agents);
			fo_thr(a, "scene_agent_drop", th->scene_agent_drop);
		}
		v->agents = frame_agents;
		v->have_agents = 1;
	}

	/* cool-down: one lasting condition is one anomaly */
	int kept = 0;
	for (int i = 0; i < n; i++) {
		fo_rule r = out[i].rule;
		if (v->fired[r] && t->frame < v->quiet_until[r])
			continue;
		v->fired[r] = 1;
		v->quiet_until[r] = t->frame + th->cooldown_frames;
		if (kept != i)
			out[kept] = out[i];
		kept++;
	}
	fo_detect_record(v, t);
	if (kept == 0)
		return 0;
	/* evidence: the vehicle's recent history, this observation included */
	unsigned ne = v->n;
	for (int i = 0; i < kept; i++) {
		fo_anomaly *a = &out[i];
		a->nevidence = (int)ne;
		for (unsigned k = 0; k < ne; k++) {
			const fo_vobs *o = fo_back(v, ne - 1 - k);
			a->ev_frame[k] = o->frame;
			a->ev_speed[k] = o->speed;
			a->ev_accel[k] = o->accel;
		}
		if (kept > 1) { /* several at once: the vehicle needs attention now */
			a->severity = FO_SEV_CRITICAL;
			fo_feat(a, "concurrent_anomalies", kept);
		}
	}
	return kept;
}
