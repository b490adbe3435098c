/*
 * replayctl: how fleetops-operator drives fleetopsd replays (the
 * /replay/... endpoints of docs/operator_api.md).
 *
 * A replay is a child process, `fleetopsd run --dataset D --scenes S
 * --speed X --sink kafka --session-id ID ...`, started with posix_spawn.
 * Its stdout and stderr go into one pipe that the monitor thread reads: it
 * copies every byte to LOG_DIR/replay-ID.log and parses the JSON log lines
 * (replay_start, replay_progress, pipeline_stats, replay_done, error-level
 * lines, the summary on stdout) into the Replay's counters. The monitor
 * thread also starts the children, signals them (SIGTERM on stop, SIGKILL
 * a grace period later), reaps them (waitpid WNOHANG, its own pids only)
 * and runs `fleetopsd info --json` once to learn the dataset's scenes.
 *
 * Request functions (scenes, start, stop, status, list) only validate,
 * take one mutex for microseconds, format JSON and wake the monitor: they
 * never wait on a child or on I/O, so the network thread may call them. A
 * start is answered 202 as soon as the replay is recorded ("running"); the
 * monitor spawns it at once, and a spawn that fails turns it "failed" with
 * the reason. A stop marks it "stopped" at once; ended_at and exit_code
 * follow when the process has exited.
 *
 * The scenes: fo_replayctl_new starts `fleetopsd info` in the monitor
 * thread and waits up to conf->info_wait seconds for it, so that normally
 * the list is known before the server serves. If it is not (slow disk) or
 * info failed (dataset not there yet), scenes and start answer 503 and
 * each such request has info run again (at most every 2 s).
 *
 * Every request function returns an HTTP status and sets *body to a
 * malloc'd JSON text (free() it) of *len bytes, NUL-terminated; errors are
 * {"error":"..."} naming the field or replay. Only when even that cannot
 * be allocated is *body NULL (status 500).
 */
#ifndef FO_REPLAYCTL_H
#define FO_REPLAYCTL_H

#include <stddef.h>
#include <stdint.h>

typedef struct fo_replayctl fo_replayctl;

typedef struct fo_replayctl_conf {
	const char *fleetopsd;         /* the fleetopsd binary; required */
	const char *dataset;           /* L5Kit zarr to replay; NULL: none (scenes is an
	                                * empty list, start is a 409) */
	const char *brokers;           /* --brokers; NULL: fleetopsd's default */
	const char *thresholds;        /* --thresholds FILE; NULL: the rule book's */
	const char *const *extra_args; /* appended to every run's arguments (they
	                                * may override ours, the last wins) */
	size_t nextra;
	const char *log_dir;  /* each replay's output in LOG_DIR/replay-ID.log
	                       * (created if missing); NULL: not kept */
	unsigned max_running; /* concurrent replays; 0: 1 */
	unsigned keep;        /* ended replays kept for status/list; 0: 100 */
	double stop_grace;    /* seconds from SIGTERM to SIGKILL; 0: 5 */
	double info_wait;     /* seconds fo_replayctl_new waits for the scenes;
	                       * 0: 10; < 0: does not wait */
	double progress;      /* fleetopsd --progress seconds; 0: 1 */
} fo_replayctl_conf;

/* Counters for /metrics; a snapshot. */
typedef struct fo_replayctl_stats {
	unsigned running;                            /* replays running now */
	uint64_t started, finished, failed, stopped; /* since start */
} fo_replayctl_stats;

/* Copies conf (its strings too), starts the monitor thread and, with a
 * dataset, `fleetopsd info --json` (waiting as conf->info_wait says).
 * Returns NULL with err: no fleetopsd given or not executable, log_dir not
 * creatable, out of memory, no thread. A dataset info cannot read is not
 * an error here (see above). Main thread; free with fo_replayctl_destroy. */
fo_replayctl *fo_replayctl_new(const fo_replayctl_conf *conf, char *err, size_t errsz);

/* Stops every running replay (SIGTERM, then SIGKILL after stop_grace),
 * reaps them, joins the monitor and frees rc. May block for stop_grace
 * plus a little. NULL-safe. Main thread, after the server stopped calling. */
void fo_replayctl_destroy(fo_replayctl *rc);

/* GET /replay/scenes: 200 {"dataset":PATH,"scenes":[{"scene_index",
 * "scene_id","frames","agents"}]}; without a dataset 200 {"dataset":null,
 * "scenes":[],"message":"..."}; 503 while the scenes are unknown. Any
 * thread. */
int fo_replayctl_scenes(fo_replayctl *rc, char **body, size_t *len);

/* POST /replay/start: scenes like "0-2,5" or "3-" (NULL: all), checked
 * against the dataset; speed a number > 0 or "max" (NULL: "1"). 202 and
 * the Replay; 400 naming the field; 409 with no dataset or when
 * max_running replays run (the body names one: "replay_id"); 503 while the
 * scenes are unknown. Any thread. */
int fo_replayctl_start(fo_replayctl *rc, const char *scenes, const char *speed, char **body,
                       size_t *len);

/* POST /replay/start with its request body {"scenes":STRING?,
 * "speed":NUMBER|"max"?} (unknown fields ignored); 400 for a body that is
 * not a JSON object or a field of the wrong type, else as
 * fo_replayctl_start. Any thread. */
int fo_replayctl_start_json(fo_replayctl *rc, const char *req, size_t reqlen, char **body,
                            size_t *len);

/* POST /replay/stop: asks replay_id to stop. 200 and the Replay ("stopped";
 * also for one already stopped); 404 unknown id; 409 one that already
 * finished or failed. Any thread. */
int fo_replayctl_stop(fo_replayctl *rc, const char *replay_id, char **body, size_t *len);

/* POST /replay/stop with its request body {"replay_id":STRING}; 400 for a
 * body that is not a JSON object or lacks a string replay_id, else as
 * fo_replayctl_stop. Any thread. */
int fo_replayctl_stop_json(fo_replayctl *rc, const char *req, size_t reqlen, char **body,
                           size_t *len);

/* GET /replay/status/{replay_id}: 200 Replay, 404 unknown id. A Replay:
 * {"replay_id","status":"running"|"finished"|"failed"|"stopped","scenes",
 * "speed":NUMBER|"max","events","events_per_s","started_at","ended_at",
 * "exit_code","error"} plus "events_total" (what the scenes hold),
 * "anomalies", "replay_session_id" (the events' metadata, once fleetopsd
 * said it) and "log" (its log file or null). Any thread. */
int fo_replayctl_status(fo_replayctl *rc, const char *replay_id, char **body, size_t *len);

/* GET /replay/status: 200 {"replays":[Replay]} newest first (the running
 * ones and the last conf->keep that ended). Any thread. */
int fo_replayctl_list(fo_replayctl *rc, char **body, size_t *len);

/* Waits until the scenes are known or info failed, at most timeout_ms.
 * Returns 1 known, 0 not yet, -1 failed or no dataset. Not for the network
 * thread (it waits); tests and main. */
int fo_replayctl_wait_scenes(fo_replayctl *rc, int timeout_ms);

/* A snapshot of the counters. Any thread. */
void fo_replayctl_stats_get(fo_replayctl *rc, fo_replayctl_stats *st);

#endif
