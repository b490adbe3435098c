/*
 * bench_fleet: how fast the operator's fleet view (ops/fleet.h) takes
 * telemetry, without Kafka or PostgreSQL.
 *
 * Pre-encodes FRAMES frames of VEHICLES vehicles (frame-major, as a replay
 * produces them) as RawTelemetryEvents, then feeds them to a fleet from
 * fo_fleet_new in batches of FO_FLEET_BATCH messages, the fleet thread's
 * path: parse each message, then apply the batch under one lock.
 *   apply:        parse + apply, no vehicle_updated built
 *   apply+flush:  the same with a vehicle_updated pass after every frame
 *                 (every vehicle changed: the worst case of the 100 ms tick)
 *   snapshot:     one fo_fleet_snapshot of every vehicle (the network
 *                 thread's GET /vehicles), and one fo_fleet_vehicle
 * Each is the best of ROUNDS runs on a fresh fleet sized for the vehicles.
 * Prints one JSON line.
 *
 *   bench_fleet [VEHICLES [FRAMES [ROUNDS]]]   (defaults 16384 8 5)
 */
#include "event.h"
#include "fleet.h"
#include "log.h"
#include "timefmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t emitted_bytes, emitted_msgs;

static void on_emit(void *arg, const char *json, size_t len)
{
	(void)arg, (void)json;
	emitted_bytes += len;
	emitted_msgs++;
}

int main(int argc, char **argv)
{
	size_t nv = argc > 1 ? strtoul(argv[1], NULL, 10) : 16384;
	size_t nf = argc > 2 ? strtoul(argv[2], NULL, 10) : 8;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	if (nv == 0 || nf == 0 || rounds <= 0) {
		fprintf(stderr, "usage: bench_fleet [VEHICLES [FRAMES [ROUNDS]]]\n");
		return 2;
	}
	fo_log_init("bench_fleet");
	size_t n = nv * nf;
	char **ev = malloc(n * sizeof(*ev));
	size_t *len = malloc(n * sizeof(*len));
	fo_uuid s;
	fo_uuid5(&s, &fo_uuid_ns_fleetops, "bench_fleet", 11);
	fo_replay_meta m;
	fo_replay_meta_init(&m, &s, 0.0);
	char proc[FO_ISO8601_LEN + 1];
	fo_time_iso8601(fo_time_wall_ns(), proc);
	size_t bytes = 0;
	for (size_t fr = 0; fr < nf; fr++)
		for (size_t v = 0; v < nv; v++) {
			fo_telemetry t = {0};
			t.scene = (uint32_t)(v / 200);
			t.track = v % 200 == 0 ? FO_TRACK_EGO : v % 200;
			t.frame = (uint32_t)fr;
			t.ts_ns = 1571846881500000000LL + (int64_t)fr * 100000000LL;
			t.pos[0] = -600.0 + (double)v * 0.37 + (double)fr * 1.1;
			t.pos[1] = 1000.0 - (double)v * 0.11;
			t.vel[0] = 11.0;
			t.vel[1] = 0.5;
			t.vel_mag = hypot(11.0, 0.5);
			t.acc[0] = -0.4;
			t.acc_mag = 0.4;
			t.yaw = 0.045;
			t.label_probability = 1.0;
			t.track_length = (uint32_t)fr + 1;
			t.frame_agents = t.track == FO_TRACK_EGO ? 199 : FO_AGENTS_UNKNOWN;
			char buf[FO_EVENT_MAX];
			fo_event_out eo;
			size_t k = fr * nv + v;
			len[k] = fo_event_encode_telemetry(&t, &m, proc, buf, sizeof(buf), &eo);
			ev[k] = malloc(len[k]);
			memcpy(ev[k], buf, len[k]);
			bytes += len[k];
		}

	double best_apply = 1e30, best_flush = 1e30, best_snap = 1e30, best_veh = 1e30;
	size_t snap_len = 0, flushed = 0;
	for (int r = 0; r < rounds; r++) {
		for (int with_flush = 0; with_flush < 2; with_flush++) {
			fo_fleet_conf c = {.expected_vehicles = nv, .emit = on_emit};
			char err[256];
			fo_fleet *f = fo_fleet_new(&c, err, sizeof(err));
			if (!f) {
				fprintf(stderr, "bench_fleet: %s\n", err);
				return 1;
			}
			emitted_bytes = emitted_msgs = 0;
			size_t applied = 0;
			int64_t t0 = fo_time_mono_ns();
			for (size_t fr = 0; fr < nf; fr++) {
				for (size_t i = 0; i < nv; i += FO_FLEET_BATCH) {
					size_t k =
					    nv - i < FO_FLEET_BATCH ? nv - i : FO_FLEET_BATCH;
					applied +=
					    fo_fleet_apply(f, (const char *const *)ev + fr * nv + i,
					                   len + fr * nv + i, k);
				}
				if (with_flush)
					flushed = fo_fleet_flush(f);
			}
			double secs = (double)(fo_time_mono_ns() - t0) / 1e9;
			if (applied != n) {
				fprintf(stderr, "bench_fleet: applied %zu of %zu\n", applied, n);
				return 1;
			}
			if (with_flush) {
				if (secs < best_flush)
					best_flush = secs;
				/* the readers, on the full map */
				char *json;
				size_t jl;
				t0 = fo_time_mono_ns();
				fo_fleet_snapshot(f, &json, &jl);
				double ss = (double)(fo_time_mono_ns() - t0) / 1e9;
				free(json);
				snap_len = jl;
				if (ss < best_snap)
					best_snap = ss;
				t0 = fo_time_mono_ns();
				if (fo_fleet_vehicle(f, "scene_000_track_1", &json, &jl) ==
				    FO_FLEET_OK)
					free(json);
				ss = (double)(fo_time_mono_ns() - t0) / 1e9;
				if (ss < best_veh)
					best_veh = ss;
			} else if (secs < best_apply) {
				best_apply = secs;
			}
			fo_fleet_stop(f);
		}
	}
	printf("{\"bench\":\"fleet\",\"vehicles\":%zu,\"frames\":%zu,\"events\":%zu,"
	       "\"mean_event_bytes\":%.0f,"
	       "\"apply_events_per_s\":%.0f,\"apply_ns_per_event\":%.1f,"
	       "\"apply_flush_events_per_s\":%.0f,\"vehicles_per_flush\":%zu,"
	       "\"snapshot_ms\":%.2f,\"snapshot_bytes\":%zu,\"vehicle_us\":%.1f}\n",
	       nv, nf, n, (double)bytes / (double)n, (double)n / best_apply,
	       best_apply * 1e9 / (double)n, (double)n / best_flush, flushed, best_snap * 1e3,
	       snap_len, best_veh * 1e6);
	for (size_t i = 0; i < n; i++)
		free(ev[i]);
	free(ev);
	free(len);
	return 0;
}
