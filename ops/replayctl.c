/*
 * replayctl: see replayctl.h for the contract.
 *
 * Threads and ownership. The request functions (any thread, typically the
 * network thread) and the monitor thread share rc->mu. Under it: the list
 * of replays (newest first; a request only ever inserts at the head), each
 * replay's reported fields (status, counters, times, error), the scenes
 * cache and the info state. The monitor thread alone owns each child's
 * process id, pipe, log file and line buffer, sends every signal, and is
 * the only one to unlink and free replays, so it may walk the list from a
 * head read under the lock without holding it. It holds the lock only to
 * read or write shared fields; posix_spawn, poll, pipe reads, log writes
 * and JSON parsing of the children's lines happen outside it.
 *
 * A child is over when it has been reaped and its pipe is at EOF (or one
 * second after reaping, in case something else holds the pipe open): only
 * then is its status final, so the error of a failed run is its last
 * error-level log line.
 */
#include "replayctl.h"

#include "jsonfile.h"
#include "log.h"
#include "timefmt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define FO_RC_SCENES_MAX   1024               /* bytes of a scenes selection */
#define FO_RC_LINE_MAX     (64 * 1024)        /* a replay's log line, parsed up to this */
#define FO_RC_INFO_MAX     (64 * 1024 * 1024) /* info's JSON line */
#define FO_RC_TICK_MS      100                /* reaping and grace checks while children live */
#define FO_RC_DRAIN_NS     1000000000LL       /* pipe kept open after reaping, at most */
#define FO_RC_INFO_RETRY   2000000000LL       /* between info attempts asked by requests */
#define FO_RC_INFO_TIMEOUT 120000000000LL     /* info killed after this */

enum { FO_RS_RUNNING, FO_RS_FINISHED, FO_RS_FAILED, FO_RS_STOPPED };
static const char *const fo_rs_names[] = {"running", "finished", "failed", "stopped"};

enum { FO_INFO_NONE, FO_INFO_LOADING, FO_INFO_READY, FO_INFO_FAILED };

/* A child process and its output: the monitor thread's alone. */
typedef struct fo_rc_child {
	pid_t pid;  /* > 0 from spawn until reaped */
	int fd;     /* read end of its stdout+stderr pipe; -1 at EOF */
	int logfd;  /* everything read is copied here; -1: not kept */
	int reaped; /* wstatus is valid */
	int wstatus;
	int64_t reaped_mono;
	char *line; /* the line being assembled, up to max bytes */
	size_t len, cap, max;
	int overlong;         /* the current line passed max: copied, not parsed */
	char last_err[512];   /* msg of its last error-level JSON line */
	char last_plain[512]; /* its last non-JSON line starting "fleetopsd" */
} fo_rc_child;

typedef struct fo_rc_replay {
	struct fo_rc_replay *next; /* older; changed by the monitor only */
	char id[48];
	char scenes[FO_RC_SCENES_MAX];
	char speed[32]; /* "max" or the number as passed to fleetopsd */
	double speed_v; /* 0: max */
	char *log;      /* log file path or NULL */
	char *report;   /* fleetopsd --report file beside it, or NULL */
	/* under rc->mu */
	int status;
	int stop_requested;
	int spawned; /* the monitor has taken it (spawned or not) */
	int ended;   /* process gone, output read: final */
	int64_t started_ns, ended_ns;
	int exit_code; /* -1: none (yet) */
	uint64_t events, events_total, anomalies;
	double events_per_s;
	double p99_raw_ms, p99_anom_ms; /* from the run's --report; < 0 unknown */
	char session[48];
	char error[512];
	/* monitor thread only */
	fo_rc_child ch;
	int64_t term_mono;
	int term_sent, kill_sent;
} fo_rc_replay;

struct fo_replayctl {
	/* copies of the conf: read-only after new */
	char *bin, *dataset, *brokers, *thresholds, *log_dir;
	char **extra;
	size_t nextra;
	unsigned max_running, keep;
	double grace, progress;
	pthread_t th;
	int efd; /* eventfd: requests wake the monitor */

	pthread_mutex_t mu;
	pthread_cond_t cv; /* info state changes (CLOCK_MONOTONIC) */
	/* under mu */
	fo_rc_replay *head;
	unsigned seq;
	int quit;
	int info_state, info_want;
	int64_t info_last_mono;
	char info_err[512];
	char *scenes_body;
	size_t scenes_len;
	uint32_t nscenes;
	uint64_t *scene_events; /* frames + agents of each scene; fixed once READY */
	fo_replayctl_stats st;

	/* monitor thread only */
	fo_rc_child info;
	int64_t info_started_mono;
};

/* ---- small helpers ---------------------------------------------------- */

static int fo_rc_errf(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fo_rc_errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errsz)
		vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

static void fo_rc_wake(fo_replayctl *rc)
{
	uint64_t one = 1;
	ssize_t w = write(rc->efd, &one, sizeof(one));
	(void)w; /* EAGAIN: the counter is already non-zero, the wake is pending */
}

static char *fo_rc_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Sets *body to the unformatted text of j (consumed) and returns status; 500
 * with body NULL if printing failed. */
static int fo_rc_reply(cJSON *j, int status, char **body, size_t *len)
{
	char *s = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	*body = s;
	*len = s ? strlen(s) : 0;
	return s ? status : 500;
}

/* {"error": message} (plus "replay_id" when given) with status. */
static int fo_rc_error(int status, char **body, size_t *len, const char *replay_id, const char *fmt,
                       ...) __attribute__((format(printf, 5, 6)));
static int fo_rc_error(int status, char **body, size_t *len, const char *replay_id, const char *fmt,
                       ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON *j = cJSON_CreateObject();
	if (j) {
		cJSON_AddStringToObject(j, "error", msg);
		if (replay_id)
			cJSON_AddStringToObject(j, "replay_id", replay_id);
	}
	return fo_rc_reply(j, status, body, len);
}

static void fo_rc_add_time(cJSON *j, const char *key, int64_t ns)
{
	if (!ns) {
		cJSON_AddNullToObject(j, key);
		return;
	}
	char ts[FO_ISO8601_LEN + 1];
	fo_time_iso8601(ns, ts);
	cJSON_AddStringToObject(j, key, ts);
}

/* A Replay object. Under rc->mu. */
static cJSON *fo_rc_replay_json(const fo_rc_replay *r)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "replay_id", r->id);
	cJSON_AddStringToObject(j, "status", fo_rs_names[r->status]);
	cJSON_AddStringToObject(j, "scenes", r->scenes);
	if (r->speed_v > 0)
		cJSON_AddNumberToObject(j, "speed", r->speed_v);
	else
		cJSON_AddStringToObject(j, "speed", "max");
	cJSON_AddNumberToObject(j, "events", (double)r->events);
	cJSON_AddNumberToObject(j, "events_per_s", round(r->events_per_s * 10) / 10);
	cJSON_AddNumberToObject(j, "events_total", (double)r->events_total);
	cJSON_AddNumberToObject(j, "anomalies", (double)r->anomalies);
	fo_rc_add_time(j, "started_at", r->started_ns);
	fo_rc_add_time(j, "ended_at", r->ended_ns);
	if (r->exit_code >= 0)
		cJSON_AddNumberToObject(j, "exit_code", r->exit_code);
	else
		cJSON_AddNullToObject(j, "exit_code");
	if (r->error[0])
		cJSON_AddStringToObject(j, "error", r->error);
	else
		cJSON_AddNullToObject(j, "error");
	if (r->session[0])
		cJSON_AddStringToObject(j, "replay_session_id", r->session);
	else
		cJSON_AddNullToObject(j, "replay_session_id");
	cJSON *lat = cJSON_AddObjectToObject(j, "latency_p99_ms");
	if (r->p99_raw_ms >= 0)
		cJSON_AddNumberToObject(lat, "raw_telemetry", round(r->p99_raw_ms * 1000) / 1000);
	else
		cJSON_AddNullToObject(lat, "raw_telemetry");
	if (r->p99_anom_ms >= 0)
		cJSON_AddNumberToObject(lat, "anomalies", round(r->p99_anom_ms * 1000) / 1000);
	else
		cJSON_AddNullToObject(lat, "anomalies");
	if (r->log)
		cJSON_AddStringToObject(j, "log", r->log);
	else
		cJSON_AddNullToObject(j, "log");
	return j;
}

static fo_rc_replay *fo_rc_find(fo_replayctl *rc, const char *id)
{
	for (fo_rc_replay *r = rc->head; r; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

/* mkdir -p; 0 or -1 with err. */
static int fo_rc_mkdirs(const char *path, char *err, size_t errsz)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return fo_rc_errf(err, errsz, "log directory %s: path too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return fo_rc_errf(err, errsz, "log directory %s: cannot create %s: %s",
			                  path, buf, strerror(errno));
		*p = c;
		if (!c)
			break;
	}
	struct stat sb;
	if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return fo_rc_errf(err, errsz, "log directory %s: not a directory", path);
	return 0;
}

/* ---- validation ------------------------------------------------------- */

/* A speed value into the text passed to fleetopsd. */
static void fo_rc_speed_text(double v, char *text, size_t textsz)
{
	if (v > 0)
		snprintf(text, textsz, "%.10g", v);
	else
		snprintf(text, textsz, "max");
}

/* Checks a speed ("max" or a number > 0) into *v (0 for max). 0, or -1
 * with err naming the field. */
static int fo_rc_parse_speed(const char *s, double *v, char *err, size_t errsz)
{
	if (strcmp(s, "max") == 0) {
		*v = 0;
		return 0;
	}
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(d) || !(d > 0))
		return fo_rc_errf(
		    err, errsz, "speed \"%.40s\": expected a number > 0 (1 = real time) or \"max\"",
		    s);
	*v = d;
	return 0;
}

/* Reads a scene index (at most 9 digits) at *p. */
static int fo_rc_scene_num(const char **p, unsigned long *out)
{
	const char *s = *p;
	unsigned long v = 0;
	int n = 0;
	while (*s >= '0' && *s <= '9' && n < 10) {
		v = v * 10 + (unsigned long)(*s++ - '0');
		n++;
	}
	if (n == 0 || n > 9)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

/* Checks a scene selection ("0-2,5", "3-": indices and ranges, no empty
 * items) against the dataset's n scenes; spaces are dropped. Writes the
 * selection as passed to fleetopsd into out and the events it holds (each
 * scene once) into *events. Under rc->mu, scenes READY. 0, or -1 with err
 * naming the field. */
static int fo_rc_check_scenes(const fo_replayctl *rc, const char *spec, char *out, size_t outsz,
                              uint64_t *events, char *err, size_t errsz)
{
	size_t k = 0;
	for (const char *p = spec; *p; p++) {
		if (*p == ' ' || *p == '\t')
			continue;
		if (k + 1 >= outsz)
			return fo_rc_errf(err, errsz, "scenes: longer than %zu characters",
			                  outsz - 1);
		out[k++] = *p;
	}
	out[k] = '\0';
	if (k == 0)
		return fo_rc_errf(
		    err, errsz, "scenes \"\": expected scene indices or ranges such as \"0-2,5\"");
	uint32_t n = rc->nscenes;
	unsigned char *seen = calloc(n ? n : 1, 1);
	if (!seen)
		return fo_rc_errf(err, errsz, "scenes: out of memory");
	uint64_t total = 0;
	const char *p = out;
	for (;;) {
		unsigned long lo, hi;
		if (fo_rc_scene_num(&p, &lo) < 0)
			goto bad;
		hi = lo;
		if (*p == '-') {
			p++;
			if (*p == '\0' || *p == ',')
				hi = n ? n - 1 : 0;
			else if (fo_rc_scene_num(&p, &hi) < 0)
				goto bad;
			if (hi < lo) {
				free(seen);
				return fo_rc_errf(
				    err, errsz,
				    "scenes \"%.200s\": range %lu-%lu is empty (write the "
				    "lower index first)",
				    out, lo, hi);
			}
		}
		if (*p != '\0' && *p != ',')
			goto bad;
		if (n == 0 || hi >= n) {
			free(seen);
			return fo_rc_errf(
			    err, errsz,
			    "scenes \"%.200s\": scene %lu is not in the dataset (it has %u "
			    "scenes: 0-%ld)",
			    out, n == 0 || lo >= n ? lo : hi, n, (long)n - 1);
		}
		for (unsigned long s = lo; s <= hi; s++)
			if (!seen[s]) {
				seen[s] = 1;
				total += rc->scene_events[s];
			}
		if (*p == '\0')
			break;
		p++; /* ',' */
	}
	free(seen);
	*events = total;
	return 0;
bad:
	free(seen);
	return fo_rc_errf(err, errsz,
	                  "scenes \"%.200s\": expected scene indices or ranges such as \"0-2,5\" "
	                  "or \"3-\"",
	                  out);
}

/* Answers 503 (or 409 without a dataset) when the scenes are not known, and
 * asks the monitor to run info again if the last attempt failed. Under
 * rc->mu. Returns 0 when READY. */
static int fo_rc_scenes_unknown(fo_replayctl *rc, char **body, size_t *len, int *status)
{
	switch (rc->info_state) {
	case FO_INFO_READY: return 0;
	case FO_INFO_NONE:
		*status = fo_rc_error(409, body, len, NULL,
		                      "no dataset configured (start fleetops-operator with "
		                      "--dataset PATH)");
		return -1;
	case FO_INFO_LOADING:
		*status = fo_rc_error(503, body, len, NULL,
		                      "the scenes of dataset %s are being read (fleetopsd info); "
		                      "retry shortly",
		                      rc->dataset);
		return -1;
	default: break;
	}
	if (!rc->info_want && fo_time_mono_ns() - rc->info_last_mono >= FO_RC_INFO_RETRY) {
		rc->info_want = 1;
		fo_rc_wake(rc);
	}
	*status = fo_rc_error(503, body, len, NULL,
	                      "dataset %s cannot be read: %s (fleetopsd info is run again on the "
	                      "next request)",
	                      rc->dataset, rc->info_err);
	return -1;
}

/* ---- requests (any thread) -------------------------------------------- */

int fo_replayctl_scenes(fo_replayctl *rc, char **body, size_t *len)
{
	int status;
	pthread_mutex_lock(&rc->mu);
	if (rc->info_state == FO_INFO_NONE) {
		pthread_mutex_unlock(&rc->mu);
		cJSON *j = cJSON_CreateObject();
		if (j) {
			cJSON_AddNullToObject(j, "dataset");
			cJSON_AddArrayToObject(j, "scenes");
			cJSON_AddStringToObject(
			    j, "message",
			    "no dataset configured (start fleetops-operator with "
			    "--dataset PATH)");
		}
		return fo_rc_reply(j, 200, body, len);
	}
	if (fo_rc_scenes_unknown(rc, body, len, &status) < 0) {
		pthread_mutex_unlock(&rc->mu);
		return status;
	}
	char *s = malloc(rc->scenes_len + 1);
	if (s)
		memcpy(s, rc->scenes_body, rc->scenes_len + 1);
	*body = s;
	*len = s ? rc->scenes_len : 0;
	pthread_mutex_unlock(&rc->mu);
	return s ? 200 : 500;
}

int fo_replayctl_start(fo_replayctl *rc, const char *scenes, const char *speed, char **body,
                       size_t *len)
{
	char err[512];
	double speed_v = 1;
	if (speed && fo_rc_parse_speed(speed, &speed_v, err, sizeof(err)) < 0)
		return fo_rc_error(400, body, len, NULL, "%s", err);
	if (scenes && strlen(scenes) >= FO_RC_SCENES_MAX)
		return fo_rc_error(400, body, len, NULL, "scenes: longer than %d characters",
		                   FO_RC_SCENES_MAX - 1);
	fo_rc_replay *r = calloc(1, sizeof(*r));
	if (!r)
		return fo_rc_error(500, body, len, NULL, "out of memory");
	r->speed_v = speed_v;
	fo_rc_speed_text(speed_v, r->speed, sizeof(r->speed));
	r->exit_code = -1;
	r->p99_raw_ms = r->p99_anom_ms = -1;
	r->ch.pid = 0;
	r->ch.fd = r->ch.logfd = -1;

	int status;
	pthread_mutex_lock(&rc->mu);
	if (fo_rc_scenes_unknown(rc, body, len, &status) < 0)
		goto refuse;
	if (scenes) {
		if (fo_rc_check_scenes(rc, scenes, r->scenes, sizeof(r->scenes), &r->events_total,
		                       err, sizeof(err)) < 0) {
			status = fo_rc_error(400, body, len, NULL, "%s", err);
			goto refuse;
		}
	} else {
		snprintf(r->scenes, sizeof(r->scenes), "0-%u", rc->nscenes - 1);
		for (uint32_t s = 0; s < rc->nscenes; s++)
			r->events_total += rc->scene_events[s];
	}
	unsigned running = 0;
	const fo_rc_replay *busy = NULL;
	for (const fo_rc_replay *o = rc->head; o; o = o->next)
		if (o->status == FO_RS_RUNNING) {
			running++;
			busy = busy ? busy : o;
		}
	if (running >= rc->max_running) {
		status = fo_rc_error(409, body, len, busy->id,
		                     "replay %s is running (at most %u at a time); stop it first",
		                     busy->id, rc->max_running);
		goto refuse;
	}
	if (rc->quit) {
		status = fo_rc_error(503, body, len, NULL, "the operator is stopping");
		goto refuse;
	}
	r->started_ns = fo_time_wall_ns();
	snprintf(r->id, sizeof(r->id), "r-%u-%lld", ++rc->seq,
	         (long long)(r->started_ns / 1000000));
	if (rc->log_dir) {
		size_t n = strlen(rc->log_dir) + strlen(r->id) + 16;
		if ((r->log = malloc(n)))
			snprintf(r->log, n, "%s/replay-%s.log", rc->log_dir, r->id);
		if ((r->report = malloc(n + 16)))
			snprintf(r->report, n + 16, "%s/replay-%s.report.json", rc->log_dir, r->id);
	}
	r->status = FO_RS_RUNNING;
	r->next = rc->head;
	rc->head = r;
	rc->st.started++;
	status = fo_rc_reply(fo_rc_replay_json(r), 202, body, len);
	pthread_mutex_unlock(&rc->mu);
	fo_rc_wake(rc);
	return status;
refuse:
	pthread_mutex_unlock(&rc->mu);
	free(r);
	return status;
}

/* Parses a request body as a JSON object; NULL with a 400 answered. */
static cJSON *fo_rc_parse_body(const char *req, size_t reqlen, char **body, size_t *len,
                               int *status)
{
	cJSON *j = req && reqlen ? cJSON_ParseWithLength(req, reqlen) : NULL;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		*status = fo_rc_error(400, body, len, NULL,
		                      !req || !reqlen ? "body: expected a JSON object"
		                      : j             ? "body: expected a JSON object"
		                                      : "body: not valid JSON");
		return NULL;
	}
	return j;
}

int fo_replayctl_start_json(fo_replayctl *rc, const char *req, size_t reqlen, char **body,
                            size_t *len)
{
	int status;
	cJSON *j = fo_rc_parse_body(req, reqlen, body, len, &status);
	if (!j)
		return status;
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scenes");
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "speed");
	const char *scenes = NULL, *speed = NULL;
	char num[64];
	if (sc && !cJSON_IsNull(sc)) {
		if (!cJSON_IsString(sc)) {
			cJSON_Delete(j);
			return fo_rc_error(400, body, len, NULL,
			                   "scenes: expected a string such as \"0-2,5\"");
		}
		scenes = sc->valuestring;
	}
	if (sp && !cJSON_IsNull(sp)) {
		if (cJSON_IsNumber(sp)) {
			double v = sp->valuedouble;
			if (!isfinite(v) || !(v > 0)) {
				cJSON_Delete(j);
				return fo_rc_error(
				    400, body, len, NULL,
				    "speed %g: expected a number > 0 (1 = real time) or "
				    "\"max\"",
				    v);
			}
			snprintf(num, sizeof(num), "%.17g", sp->valuedouble);
			speed = num;
		} else if (cJSON_IsString(sp)) {
			speed = sp->valuestring;
		} else {
			cJSON_Delete(j);
			return fo_rc_error(400, body, len, NULL,
			                   "speed: expected a number > 0 or \"max\"");
		}
	}
	status = fo_replayctl_start(rc, scenes, speed, body, len);
	cJSON_Delete(j);
	return status;
}

int fo_replayctl_stop(fo_replayctl *rc, const char *replay_id, char **body, size_t *len)
{
	if (!replay_id || !*replay_id)
		return fo_rc_error(400, body, len, NULL, "replay_id: expected a replay id");
	int status;
	pthread_mutex_lock(&rc->mu);
	fo_rc_replay *r = fo_rc_find(rc, replay_id);
	if (!r) {
		status =
		    fo_rc_error(404, body, len, NULL, "replay %.64s: no such replay", replay_id);
	} else if (r->status == FO_RS_FINISHED || r->status == FO_RS_FAILED) {
		status = fo_rc_error(409, body, len, r->id, "replay %s already %s", r->id,
		                     fo_rs_names[r->status]);
	} else {
		if (r->status == FO_RS_RUNNING) {
			r->status = FO_RS_STOPPED;
			r->stop_requested = 1;
		}
		status = fo_rc_reply(fo_rc_replay_json(r), 200, body, len);
	}
	pthread_mutex_unlock(&rc->mu);
	fo_rc_wake(rc);
	return status;
}

int fo_replayctl_stop_json(fo_replayctl *rc, const char *req, size_t reqlen, char **body,
                           size_t *len)
{
	int status;
	cJSON *j = fo_rc_parse_body(req, reqlen, body, len, &status);
	if (!j)
		return status;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "replay_id");
	if (!cJSON_IsString(id) || !id->valuestring[0]) {
		cJSON_Delete(j);
		return fo_rc_error(400, body, len, NULL,
		                   "replay_id: expected the id of a replay (a string)");
	}
	status = fo_replayctl_stop(rc, id->valuestring, body, len);
	cJSON_Delete(j);
	return status;
}

int fo_replayctl_status(fo_replayctl *rc, const char *replay_id, char **body, size_t *len)
{
	int status;
	pthread_mutex_lock(&rc->mu);
	fo_rc_replay *r = replay_id ? fo_rc_find(rc, replay_id) : NULL;
	if (!r)
		status = fo_rc_error(404, body, len, NULL, "replay %.64s: no such replay",
		                     replay_id ? replay_id : "");
	else
		status = fo_rc_reply(fo_rc_replay_json(r), 200, body, len);
	pthread_mutex_unlock(&rc->mu);
	return status;
}

int fo_replayctl_list(fo_replayctl *rc, char **body, size_t *len)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *a = j ? cJSON_AddArrayToObject(j, "replays") : NULL;
	if (!a) {
		cJSON_Delete(j);
		return fo_rc_error(500, body, len, NULL, "out of memory");
	}
	pthread_mutex_lock(&rc->mu);
	for (const fo_rc_replay *r = rc->head; r; r = r->next)
		cJSON_AddItemToArray(a, fo_rc_replay_json(r));
	pthread_mutex_unlock(&rc->mu);
	return fo_rc_reply(j, 200, body, len);
}

void fo_replayctl_stats_get(fo_replayctl *rc, fo_replayctl_stats *st)
{
	pthread_mutex_lock(&rc->mu);
	*st = rc->st;
	st->running = 0;
	for (const fo_rc_replay *r = rc->head; r; r = r->next)
		st->running += r->status == FO_RS_RUNNING;
	pthread_mutex_unlock(&rc->mu);
}

static void fo_rc_deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int fo_replayctl_wait_scenes(fo_replayctl *rc, int timeout_ms)
{
	struct timespec dl;
	fo_rc_deadline(&dl, timeout_ms);
	pthread_mutex_lock(&rc->mu);
	while (rc->info_state == FO_INFO_LOADING || rc->info_want)
		if (pthread_cond_timedwait(&rc->cv, &rc->mu, &dl) == ETIMEDOUT)
			break;
	int r = rc->info_state == FO_INFO_READY     ? 1
	        : rc->info_state == FO_INFO_LOADING ? 0
	        : rc->info_want                     ? 0
	                                            : -1;
	pthread_mutex_unlock(&rc->mu);
	return r;
}

/* ---- children (monitor thread) ---------------------------------------- */

/* Starts argv[0] with stdin /dev/null and stdout+stderr into a pipe, its
 * signal mask empty and common signals at their defaults whatever the
 * calling thread has. 0, or -1 with err. */
static int fo_rc_spawn(char *const argv[], fo_rc_child *ch, char *err, size_t errsz)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return fo_rc_errf(err, errsz, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* sockets without CLOEXEC */
#endif
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	const int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&dfl, sigs[i]);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int e = posix_spawn(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (e) {
		close(p[0]);
		return fo_rc_errf(err, errsz, "cannot start %s: %s", argv[0], strerror(e));
	}
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	ch->pid = pid;
	ch->fd = p[0];
	ch->reaped = 0;
	ch->len = 0;
	ch->overlong = 0;
	ch->last_err[0] = ch->last_plain[0] = '\0';
	return 0;
}

static void fo_rc_write_all(int fd, const char *b, size_t n)
{
	while (fd >= 0 && n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk loses log text, never the replay */
		b += w;
		n -= (size_t)w;
	}
}

typedef void (*fo_rc_line_fn)(fo_replayctl *rc, void *arg, fo_rc_child *ch, char *line, size_t n);

/* Reads what the child's pipe holds (up to 1 MiB a round), copies it to the
 * log and hands each complete line to fn. Closes the pipe at EOF (a last
 * line without newline is handed over then). */
static void fo_rc_read(fo_replayctl *rc, fo_rc_child *ch, fo_rc_line_fn fn, void *arg)
{
	char buf[16384];
	for (int round = 0; ch->fd >= 0 && round < 64; round++) {
		ssize_t n = read(ch->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* EOF or error */
			close(ch->fd);
			ch->fd = -1;
			if (ch->len && !ch->overlong) {
				ch->line[ch->len] = '\0';
				fn(rc, arg, ch, ch->line, ch->len);
			}
			ch->len = 0;
			return;
		}
		fo_rc_write_all(ch->logfd, buf, (size_t)n);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (!ch->overlong && ch->len) {
					ch->line[ch->len] = '\0';
					fn(rc, arg, ch, ch->line, ch->len);
				}
				ch->len = 0;
				ch->overlong = 0;
				continue;
			}
			if (ch->overlong)
				continue;
			if (ch->len + 1 >= ch->cap) {
				size_t cap = ch->cap ? ch->cap * 2 : 4096;
				char *nl = cap <= ch->max + 1 ? realloc(ch->line, cap) : NULL;
				if (!nl) {
					ch->overlong = 1;
					continue;
				}
				ch->line = nl;
				ch->cap = cap;
			}
			ch->line[ch->len++] = buf[i];
		}
	}
}

/* Remembers error lines (level "error" JSON, or fleetopsd's plain usage
 * errors) of a child; returns the parsed JSON line or NULL. */
static cJSON *fo_rc_line_common(fo_rc_child *ch, const char *line, size_t n)
{
	if (line[0] != '{') {
		if (strncmp(line, "fleetopsd", 9) == 0)
			snprintf(ch->last_plain, sizeof(ch->last_plain), "%s", line);
		return NULL;
	}
	cJSON *j = cJSON_ParseWithLength(line, n);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	const cJSON *lv = cJSON_GetObjectItemCaseSensitive(j, "level");
	if (cJSON_IsString(lv) && strcmp(lv->valuestring, "error") == 0) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "msg");
		const cJSON *et = cJSON_GetObjectItemCaseSensitive(j, "event_type");
		snprintf(ch->last_err, sizeof(ch->last_err), "%s",
		         cJSON_IsString(m)    ? m->valuestring
		         : cJSON_IsString(et) ? et->valuestring
		                              : "error");
	}
	return j;
}

static int fo_rc_num(const cJSON *j, const char *k, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
		return 0;
	*out = v->valuedouble;
	return 1;
}

/* A line of fleetopsd run: its progress into the replay's counters. */
static void fo_rc_replay_line(fo_replayctl *rc, void *arg, fo_rc_child *ch, char *line, size_t n)
{
	fo_rc_replay *r = arg;
	cJSON *j = fo_rc_line_common(ch, line, n);
	if (!j)
		return;
	const cJSON *et = cJSON_GetObjectItemCaseSensitive(j, "event_type");
	const char *type = cJSON_IsString(et) ? et->valuestring : "";
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(j, "role");
	double v;
	pthread_mutex_lock(&rc->mu);
	if (strcmp(type, "replay_start") == 0) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "replay_session_id");
		if (cJSON_IsString(s))
			snprintf(r->session, sizeof(r->session), "%s", s->valuestring);
		if (fo_rc_num(j, "events", &v))
			r->events_total = (uint64_t)v;
	} else if (strcmp(type, "replay_progress") == 0) {
		if (fo_rc_num(j, "events_read", &v) && (uint64_t)v > r->events)
			r->events = (uint64_t)v;
		if (fo_rc_num(j, "events_total", &v))
			r->events_total = (uint64_t)v;
	} else if (strcmp(type, "pipeline_stats") == 0) {
		if (fo_rc_num(j, "events", &v) && (uint64_t)v > r->events)
			r->events = (uint64_t)v;
		if (fo_rc_num(j, "events_per_s", &v))
			r->events_per_s = v;
	} else if (strcmp(type, "replay_done") == 0 || (!et && cJSON_IsString(role))) {
		/* the last log line and the summary on stdout: final figures */
		if (fo_rc_num(j, "events", &v))
			r->events = (uint64_t)v;
		if (fo_rc_num(j, "events_per_s", &v))
			r->events_per_s = v;
		if (fo_rc_num(j, "anomalies", &v))
			r->anomalies = (uint64_t)v;
	}
	pthread_mutex_unlock(&rc->mu);
	cJSON_Delete(j);
}

/* A line of fleetopsd info --json: the object with "scenes" becomes the
 * cache. */
static void fo_rc_info_line(fo_replayctl *rc, void *arg, fo_rc_child *ch, char *line, size_t n)
{
	(void)arg;
	cJSON *j = fo_rc_line_common(ch, line, n);
	const cJSON *scenes = j ? cJSON_GetObjectItemCaseSensitive(j, "scenes") : NULL;
	if (!cJSON_IsArray(scenes)) {
		cJSON_Delete(j);
		return;
	}
	int ns = cJSON_GetArraySize(scenes);
	uint64_t *ev = calloc(ns ? (size_t)ns : 1, sizeof(*ev));
	cJSON *out = cJSON_CreateObject();
	cJSON *arr = out ? cJSON_AddArrayToObject(out, "scenes") : NULL;
	char *text = NULL;
	if (ev && arr) {
		cJSON_AddStringToObject(out, "dataset", rc->dataset);
		const cJSON *s;
		int i = 0;
		cJSON_ArrayForEach(s, scenes)
		{
			double fr = 0, ag = 0;
			fo_rc_num(s, "frames", &fr);
			fo_rc_num(s, "agents", &ag);
			ev[i] = (uint64_t)fr + (uint64_t)ag;
			cJSON *o = cJSON_CreateObject();
			char id[32];
			snprintf(id, sizeof(id), "scene_%03d", i);
			cJSON_AddNumberToObject(o, "scene_index", i);
			cJSON_AddStringToObject(o, "scene_id", id);
			cJSON_AddNumberToObject(o, "frames", fr);
			cJSON_AddNumberToObject(o, "agents", ag);
			cJSON_AddItemToArray(arr, o);
			i++;
		}
		/* "dataset" first reads better: move it to the front */
		cJSON *ds = cJSON_DetachItemFromObjectCaseSensitive(out, "dataset");
		if (ds) {
			ds->next = out->child;
			if (out->child) {
				ds->prev = out->child->prev;
				out->child->prev = ds;
			}
			out->child = ds;
		}
		text = cJSON_PrintUnformatted(out);
	}
	cJSON_Delete(out);
	cJSON_Delete(j);
	if (!text) {
		free(ev);
		snprintf(ch->last_err, sizeof(ch->last_err), "out of memory reading the scenes");
		return;
	}
	pthread_mutex_lock(&rc->mu);
	free(rc->scenes_body);
	free(rc->scene_events);
	rc->scenes_body = text;
	rc->scenes_len = strlen(text);
	rc->scene_events = ev;
	rc->nscenes = (uint32_t)ns;
	pthread_mutex_unlock(&rc->mu);
}

/* "exited with status 3" / "killed by signal 9 (Killed)" */
static int fo_rc_exit_text(int ws, char *out, size_t outsz)
{
	if (WIFEXITED(ws)) {
		snprintf(out, outsz, "fleetopsd exited with status %d", WEXITSTATUS(ws));
		return WEXITSTATUS(ws);
	}
	int sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	snprintf(out, outsz, "fleetopsd was killed by signal %d (%s)", sig, strsignal(sig));
	return 128 + sig;
}

/* Reaps ch if it has exited; closes its pipe once drained or a second
 * after. Returns 1 when the child is over (reaped and pipe closed). */
static int fo_rc_reap(fo_rc_child *ch)
{
	if (ch->pid > 0 && !ch->reaped) {
		int ws;
		pid_t w = waitpid(ch->pid, &ws, WNOHANG);
		if (w == ch->pid || (w < 0 && errno == ECHILD)) {
			ch->reaped = 1;
			ch->wstatus = w == ch->pid ? ws : 255 << 8;
			ch->reaped_mono = fo_time_mono_ns();
			if (w != ch->pid) /* someone else reaped it (SIGCHLD ignored?) */
				snprintf(ch->last_plain, sizeof(ch->last_plain),
				         "fleetopsd's exit status was lost (reaped elsewhere)");
		}
	}
	if (ch->reaped && ch->fd >= 0 && fo_time_mono_ns() - ch->reaped_mono > FO_RC_DRAIN_NS) {
		close(ch->fd);
		ch->fd = -1;
	}
	return ch->pid > 0 && ch->reaped && ch->fd < 0;
}

/* One JSON line of the operator's own into a replay's log. */
static void fo_rc_log_note(int fd, cJSON *j)
{
	char ts[FO_ISO8601_LEN + 1];
	fo_time_iso8601(fo_time_wall_ns(), ts);
	cJSON_AddStringToObject(j, "ts", ts);
	cJSON_AddStringToObject(j, "service", "fleetops-operator");
	char *s = cJSON_PrintUnformatted(j);
	if (s) {
		fo_rc_write_all(fd, s, strlen(s));
		fo_rc_write_all(fd, "\n", 1);
	}
	free(s);
	cJSON_Delete(j);
}

/* Starts replay r (taken under the lock by the caller, not stopped). */
static void fo_rc_start_replay(fo_replayctl *rc, fo_rc_replay *r)
{
	char progress[32];
	snprintf(progress, sizeof(progress), "%g", rc->progress);
	const char *argv[32 + 64];
	size_t a = 0;
	argv[a++] = rc->bin;
	argv[a++] = "run";
	argv[a++] = "--dataset";
	argv[a++] = rc->dataset;
	argv[a++] = "--scenes";
	argv[a++] = r->scenes;
	argv[a++] = "--speed";
	argv[a++] = r->speed;
	argv[a++] = "--sink";
	argv[a++] = "kafka";
	argv[a++] = "--session-id";
	argv[a++] = r->id;
	argv[a++] = "--progress";
	argv[a++] = progress;
	if (rc->brokers) {
		argv[a++] = "--brokers";
		argv[a++] = rc->brokers;
	}
	if (rc->thresholds) {
		argv[a++] = "--thresholds";
		argv[a++] = rc->thresholds;
	}
	if (r->report) {
		argv[a++] = "--report";
		argv[a++] = r->report;
	}
	for (size_t i = 0; i < rc->nextra; i++)
		argv[a++] = rc->extra[i];
	argv[a] = NULL;

	char err[512] = "";
	r->ch.max = FO_RC_LINE_MAX;
	if (r->log) {
		r->ch.logfd =
		    open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (r->ch.logfd < 0)
			fo_log(FO_LOG_WARN, "replay_log_error", strerror(errno),
			       FO_KS("file", r->log), FO_KS("replay_id", r->id));
	}
	if (r->ch.logfd >= 0) {
		cJSON *j = cJSON_CreateObject(), *av = cJSON_AddArrayToObject(j, "argv");
		cJSON_AddStringToObject(j, "event_type", "replay_command");
		cJSON_AddStringToObject(j, "replay_id", r->id);
		for (size_t i = 0; i < a; i++)
			cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
		fo_rc_log_note(r->ch.logfd, j);
	}
	int rv = fo_rc_spawn((char *const *)argv, &r->ch, err, sizeof(err));
	if (rv < 0) {
		if (r->ch.logfd >= 0) {
			fo_rc_write_all(r->ch.logfd, err, strlen(err));
			fo_rc_write_all(r->ch.logfd, "\n", 1);
			close(r->ch.logfd);
			r->ch.logfd = -1;
		}
		fo_log(FO_LOG_ERROR, "replay_failed", err, FO_KS("replay_id", r->id));
		pthread_mutex_lock(&rc->mu);
		if (r->status == FO_RS_RUNNING)
			r->status = FO_RS_FAILED;
		snprintf(r->error, sizeof(r->error), "%s", err);
		r->ended = 1;
		r->ended_ns = fo_time_wall_ns();
		if (r->status == FO_RS_FAILED)
			rc->st.failed++;
		else
			rc->st.stopped++;
		pthread_mutex_unlock(&rc->mu);
		return;
	}
	fo_log(FO_LOG_INFO, "replay_started", "fleetopsd run started", FO_KS("replay_id", r->id),
	       FO_KI("pid", r->ch.pid), FO_KS("scenes", r->scenes), FO_KS("speed", r->speed),
	       FO_KS("log", r->log ? r->log : ""));
}

/* The p99 of a stage of the run's report (fleetopsd --report), in ms; -1
 * if the report does not have it. */
static double fo_rc_report_p99(const cJSON *report, const char *stage)
{
	const cJSON *lat = cJSON_GetObjectItemCaseSensitive(report, "latency");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(lat, stage);
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(st, "count");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(st, "p99_us");
	return cJSON_IsNumber(n) && n->valuedouble > 0 && cJSON_IsNumber(p) ? p->valuedouble / 1e3
	                                                                    : -1;
}

/* r's process is over: its final status. */
static void fo_rc_end_replay(fo_replayctl *rc, fo_rc_replay *r)
{
	char text[256], rerr[256];
	int code = fo_rc_exit_text(r->ch.wstatus, text, sizeof(text));
	cJSON *report = r->report && access(r->report, R_OK) == 0
	                    ? fo_json_load_file(r->report, rerr, sizeof(rerr))
	                    : NULL;
	double p99_raw = fo_rc_report_p99(report, "emit_to_raw_delivered");
	double p99_anom = fo_rc_report_p99(report, "emit_to_anomaly_delivered");
	cJSON_Delete(report);
	pthread_mutex_lock(&rc->mu);
	r->p99_raw_ms = p99_raw;
	r->p99_anom_ms = p99_anom;
	r->ended = 1;
	r->ended_ns = fo_time_wall_ns();
	r->exit_code = code;
	if (r->status == FO_RS_RUNNING)
		r->status = code == 0 ? FO_RS_FINISHED : FO_RS_FAILED;
	if (r->status == FO_RS_FAILED)
		snprintf(r->error, sizeof(r->error), "%s",
		         r->ch.last_err[0]     ? r->ch.last_err
		         : r->ch.last_plain[0] ? r->ch.last_plain
		                               : text);
	int st = r->status;
	uint64_t events = r->events;
	rc->st.finished += st == FO_RS_FINISHED;
	rc->st.failed += st == FO_RS_FAILED;
	rc->st.stopped += st == FO_RS_STOPPED;
	pthread_mutex_unlock(&rc->mu);
	if (r->ch.logfd >= 0) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "event_type", "replay_exit");
		cJSON_AddStringToObject(j, "replay_id", r->id);
		cJSON_AddStringToObject(j, "status", fo_rs_names[st]);
		cJSON_AddNumberToObject(j, "exit_code", code);
		fo_rc_log_note(r->ch.logfd, j);
		close(r->ch.logfd);
		r->ch.logfd = -1;
	}
	fo_log(st == FO_RS_FAILED ? FO_LOG_WARN : FO_LOG_INFO, "replay_ended", text,
	       FO_KS("replay_id", r->id), FO_KS("status", fo_rs_names[st]),
	       FO_KI("exit_code", code), FO_KU("events", events),
	       FO_KS("error", st == FO_RS_FAILED ? r->error : ""));
}

static void fo_rc_start_info(fo_replayctl *rc)
{
	const char *argv[] = {rc->bin, "info", "--dataset", rc->dataset, "--json", NULL};
	char err[512];
	rc->info.max = FO_RC_INFO_MAX;
	rc->info.logfd = -1;
	int rv = fo_rc_spawn((char *const *)argv, &rc->info, err, sizeof(err));
	pthread_mutex_lock(&rc->mu);
	rc->info_last_mono = rc->info_started_mono = fo_time_mono_ns();
	if (rv < 0) {
		rc->info_state = FO_INFO_FAILED;
		snprintf(rc->info_err, sizeof(rc->info_err), "%s", err);
		pthread_cond_broadcast(&rc->cv);
	}
	pthread_mutex_unlock(&rc->mu);
	if (rv < 0)
		fo_log(FO_LOG_ERROR, "replay_scenes_error", err, FO_KS("dataset", rc->dataset));
}

static void fo_rc_end_info(fo_replayctl *rc)
{
	char text[256];
	int code = fo_rc_exit_text(rc->info.wstatus, text, sizeof(text));
	rc->info.pid = 0;
	pthread_mutex_lock(&rc->mu);
	int ok = code == 0 && rc->scenes_body;
	rc->info_state = ok ? FO_INFO_READY : FO_INFO_FAILED;
	if (!ok)
		snprintf(rc->info_err, sizeof(rc->info_err), "%s",
		         rc->info.last_err[0]     ? rc->info.last_err
		         : rc->info.last_plain[0] ? rc->info.last_plain
		         : code == 0
		             ? "fleetopsd info --json printed no scenes (an older fleetopsd?)"
		             : text);
	uint32_t n = rc->nscenes;
	pthread_cond_broadcast(&rc->cv);
	pthread_mutex_unlock(&rc->mu);
	if (ok)
		fo_log(FO_LOG_INFO, "replay_scenes", "dataset scenes read",
		       FO_KS("dataset", rc->dataset), FO_KU("scenes", n));
	else
		fo_log(FO_LOG_ERROR, "replay_scenes_error", rc->info_err,
		       FO_KS("dataset", rc->dataset));
}

/* Frees ended replays beyond the newest rc->keep. Monitor thread. */
static void fo_rc_trim(fo_replayctl *rc)
{
	pthread_mutex_lock(&rc->mu);
	unsigned ended = 0;
	for (fo_rc_replay **pp = &rc->head; *pp;) {
		fo_rc_replay *r = *pp;
		if (r->ended && ++ended > rc->keep) {
			*pp = r->next;
			free(r->ch.line);
			free(r->log);
			free(r->report);
			free(r);
			continue;
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&rc->mu);
}

static void *fo_rc_monitor(void *arg)
{
	fo_replayctl *rc = arg;
	int shutting = 0;
	struct pollfd *pfd = NULL;
	void **owner = NULL;
	size_t pcap = 0;
	for (;;) {
		/* what the requests asked for */
		pthread_mutex_lock(&rc->mu);
		int quit = rc->quit, want_info = 0;
		if (quit && !shutting) {
			shutting = 1;
			for (fo_rc_replay *r = rc->head; r; r = r->next)
				if (r->status == FO_RS_RUNNING) {
					r->status = FO_RS_STOPPED;
					r->stop_requested = 1;
				}
		}
		if (rc->info_want && rc->info.pid <= 0 && !quit) {
			rc->info_want = 0;
			rc->info_state = FO_INFO_LOADING;
			want_info = 1;
		}
		fo_rc_replay *head = rc->head;
		pthread_mutex_unlock(&rc->mu);
		if (want_info)
			fo_rc_start_info(rc);
		if (quit && rc->info.pid > 0 && !rc->info.reaped)
			kill(rc->info.pid, SIGKILL);
		if (rc->info.pid > 0 && !rc->info.reaped &&
		    fo_time_mono_ns() - rc->info_started_mono > FO_RC_INFO_TIMEOUT) {
			snprintf(rc->info.last_err, sizeof(rc->info.last_err),
			         "fleetopsd info took more than %lld s",
			         (long long)(FO_RC_INFO_TIMEOUT / 1000000000LL));
			kill(rc->info.pid, SIGKILL);
		}

		/* spawn new replays, signal the ones to stop */
		int64_t now = fo_time_mono_ns();
		size_t live = 0;
		for (fo_rc_replay *r = head; r; r = r->next) {
			pthread_mutex_lock(&rc->mu);
			int spawn = !r->spawned && !r->stop_requested, stop = r->stop_requested;
			if (!r->spawned && r->stop_requested) { /* stopped before it started */
				r->ended = 1;
				r->ended_ns = fo_time_wall_ns();
				rc->st.stopped++;
			}
			r->spawned = 1;
			pthread_mutex_unlock(&rc->mu);
			if (spawn)
				fo_rc_start_replay(rc, r);
			if (r->ch.pid <= 0 || r->ch.reaped) {
				live += r->ch.fd >= 0;
				continue;
			}
			live++;
			if (stop && !r->term_sent) {
				kill(r->ch.pid, SIGTERM);
				r->term_sent = 1;
				r->term_mono = now;
			} else if (stop && !r->kill_sent &&
			           now - r->term_mono > (int64_t)(rc->grace * 1e9)) {
				fo_log(FO_LOG_WARN, "replay_kill",
				       "fleetopsd did not stop after SIGTERM: SIGKILL",
				       FO_KS("replay_id", r->id), FO_KI("pid", r->ch.pid));
				kill(r->ch.pid, SIGKILL);
				r->kill_sent = 1;
			}
		}
		if (rc->info.pid > 0)
			live++;
		if (shutting && live == 0)
			break;

		/* wait for output, a request, or the tick */
		size_t n = 0, need = 2;
		for (fo_rc_replay *r = head; r; r = r->next)
			need += r->ch.fd >= 0;
		if (need > pcap) {
			struct pollfd *np = realloc(pfd, need * 2 * sizeof(*pfd));
			void **no = realloc(owner, need * 2 * sizeof(*owner));
			if (np)
				pfd = np;
			if (no)
				owner = no;
			if (!np || !no) {
				usleep(FO_RC_TICK_MS * 1000);
				continue;
			}
			pcap = need * 2;
		}
		pfd[n] = (struct pollfd){.fd = rc->efd, .events = POLLIN};
		owner[n++] = NULL;
		if (rc->info.fd >= 0) {
			pfd[n] = (struct pollfd){.fd = rc->info.fd, .events = POLLIN};
			owner[n++] = &rc->info;
		}
		for (fo_rc_replay *r = head; r; r = r->next)
			if (r->ch.fd >= 0) {
				pfd[n] = (struct pollfd){.fd = r->ch.fd, .events = POLLIN};
				owner[n++] = r;
			}
		int pr = poll(pfd, n, live ? FO_RC_TICK_MS : -1);
		if (pr < 0 && errno != EINTR)
			usleep(FO_RC_TICK_MS * 1000);
		if (pr > 0 && (pfd[0].revents & POLLIN)) {
			uint64_t v;
			ssize_t rd = read(rc->efd, &v, sizeof(v));
			(void)rd;
		}
		for (size_t i = 1; pr > 0 && i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (owner[i] == &rc->info)
				fo_rc_read(rc, &rc->info, fo_rc_info_line, NULL);
			else
				fo_rc_read(rc, &((fo_rc_replay *)owner[i])->ch, fo_rc_replay_line,
				           owner[i]);
		}

		/* reap */
		if (rc->info.pid > 0 && fo_rc_reap(&rc->info))
			fo_rc_end_info(rc);
		for (fo_rc_replay *r = head; r; r = r->next) {
			if (r->ch.pid <= 0)
				continue;
			if (fo_rc_reap(&r->ch)) {
				fo_rc_end_replay(rc, r);
				r->ch.pid = 0;
			}
		}
		fo_rc_trim(rc);
	}
	free(pfd);
	free(owner);
	return NULL;
}

/* ---- lifetime (main thread) ------------------------------------------- */

static void fo_rc_free(fo_replayctl *rc)
{
	for (fo_rc_replay *r = rc->head, *nx; r; r = nx) {
		nx = r->next;
		free(r->ch.line);
		free(r->log);
		free(r->report);
		free(r);
	}
	free(rc->info.line);
	free(rc->scenes_body);
	free(rc->scene_events);
	for (size_t i = 0; i < rc->nextra; i++)
		free(rc->extra[i]);
	free(rc->extra);
	free(rc->bin);
	free(rc->dataset);
	free(rc->brokers);
	free(rc->thresholds);
	free(rc->log_dir);
	if (rc->efd >= 0)
		close(rc->efd);
	free(rc);
}

fo_replayctl *fo_replayctl_new(const fo_replayctl_conf *conf, char *err, size_t errsz)
{
	if (!conf->fleetopsd || !*conf->fleetopsd) {
		fo_rc_errf(err, errsz, "replay control: no fleetopsd binary given");
		return NULL;
	}
	if (access(conf->fleetopsd, X_OK) < 0) {
		fo_rc_errf(err, errsz, "replay control: fleetopsd binary %s: %s", conf->fleetopsd,
		           strerror(errno));
		return NULL;
	}
	if (conf->nextra > 64) {
		fo_rc_errf(err, errsz, "replay control: %zu extra fleetopsd arguments (at most 64)",
		           conf->nextra);
		return NULL;
	}
	if (conf->log_dir && fo_rc_mkdirs(conf->log_dir, err, errsz) < 0)
		return NULL;
	fo_replayctl *rc = calloc(1, sizeof(*rc));
	if (!rc) {
		fo_rc_errf(err, errsz, "out of memory");
		return NULL;
	}
	rc->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc->info.fd = rc->info.logfd = -1;
	rc->bin = strdup(conf->fleetopsd);
	rc->dataset = fo_rc_strdup(conf->dataset);
	rc->brokers = fo_rc_strdup(conf->brokers);
	rc->thresholds = fo_rc_strdup(conf->thresholds);
	rc->log_dir = fo_rc_strdup(conf->log_dir);
	rc->extra = calloc(conf->nextra ? conf->nextra : 1, sizeof(*rc->extra));
	int oom = !rc->bin || (conf->dataset && !rc->dataset) || (conf->brokers && !rc->brokers) ||
	          (conf->thresholds && !rc->thresholds) || (conf->log_dir && !rc->log_dir) ||
	          !rc->extra;
	for (size_t i = 0; !oom && i < conf->nextra; i++)
		oom = !(rc->extra[rc->nextra++] = strdup(conf->extra_args[i]));
	if (oom || rc->efd < 0) {
		fo_rc_errf(err, errsz, oom ? "out of memory" : "eventfd: %s", strerror(errno));
		fo_rc_free(rc);
		return NULL;
	}
	rc->max_running = conf->max_running ? conf->max_running : 1;
	rc->keep = conf->keep ? conf->keep : 100;
	rc->grace = conf->stop_grace > 0 ? conf->stop_grace : 5;
	rc->progress = conf->progress > 0 ? conf->progress : 1;
	rc->info_state = rc->dataset ? FO_INFO_LOADING : FO_INFO_NONE;
	rc->info_want = rc->dataset != NULL;

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rc->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&rc->mu, NULL);
	int e = pthread_create(&rc->th, NULL, fo_rc_monitor, rc);
	if (e) {
		fo_rc_errf(err, errsz, "replay control: cannot start its thread: %s", strerror(e));
		pthread_cond_destroy(&rc->cv);
		pthread_mutex_destroy(&rc->mu);
		fo_rc_free(rc);
		return NULL;
	}
	double wait = conf->info_wait == 0 ? 10 : conf->info_wait;
	if (rc->dataset && wait > 0 && fo_replayctl_wait_scenes(rc, (int)(wait * 1000)) == 0)
		fo_log(FO_LOG_WARN, "replay_scenes_pending",
		       "the dataset's scenes are not read yet; /replay answers 503 until they are",
		       FO_KS("dataset", rc->dataset));
	return rc;
}

void fo_replayctl_destroy(fo_replayctl *rc)
{
	if (!rc)
		return;
	pthread_mutex_lock(&rc->mu);
	rc->quit = 1;
	pthread_mutex_unlock(&rc->mu);
	fo_rc_wake(rc);
	pthread_join(rc->th, NULL);
	pthread_cond_destroy(&rc->cv);
	pthread_mutex_destroy(&rc->mu);
	fo_rc_free(rc);
}
