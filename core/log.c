/*
 * log: see log.h. The service name and level are set once at start and only
 * read afterwards, so logging threads share nothing they write.
 */
#include "log.h"

#include "json.h"
#include "timefmt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *fo_log_service = "fleetops";
static fo_log_level fo_log_min = FO_LOG_INFO;

static const char *const fo_log_names[] = {"debug", "info", "warn", "error"};

void fo_log_init(const char *service)
{
	fo_log_service = service;
	const char *env = getenv("FO_LOG_LEVEL");
	if (!env)
		return;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(env, fo_log_names[i]) == 0)
			fo_log_min = (fo_log_level)i;
}

void fo_log_set_level(fo_log_level level)
{
	fo_log_min = level;
}

int fo_log_enabled(fo_log_level level)
{
	return level >= fo_log_min;
}

void fo_log_kv(fo_log_level level, const char *event_type, const char *msg, const fo_kv *kv,
               size_t n)
{
	if (level < fo_log_min)
		return;
	char buf[4096];
	fo_jw jw;
	fo_jw_init(&jw, buf, sizeof(buf) - 1);
	char ts[32];
	fo_time_iso8601(fo_time_wall_ns(), ts);
	fo_jw_lit(&jw, "{\"ts\":\"");
	fo_jw_cstr(&jw, ts);
	fo_jw_lit(&jw, "\",\"service\":");
	fo_jw_str(&jw, fo_log_service, strlen(fo_log_service));
	fo_jw_lit(&jw, ",\"level\":\"");
	fo_jw_cstr(&jw, fo_log_names[level]);
	fo_jw_lit(&jw, "\",\"event_type\":");
	fo_jw_str(&jw, event_type, strlen(event_type));
	if (msg) {
		fo_jw_lit(&jw, ",\"msg\":");
		fo_jw_str(&jw, msg, strlen(msg));
	}
	for (size_t i = 0; i < n; i++) {
		fo_jw_char(&jw, ',');
		fo_jw_str(&jw, kv[i].k, strlen(kv[i].k));
		fo_jw_char(&jw, ':');
		switch (kv[i].t) {
		case 's':
			if (kv[i].s)
				fo_jw_str(&jw, kv[i].s, strlen(kv[i].s));
			else
				fo_jw_lit(&jw, "null");
			break;
		case 'i': fo_jw_i64(&jw, kv[i].i); break;
		case 'u': fo_jw_u64(&jw, kv[i].u); break;
		case 'f': fo_jw_double(&jw, kv[i].f); break;
		case 'b':
			if (kv[i].i)
				fo_jw_lit(&jw, "true");
			else
				fo_jw_lit(&jw, "false");
			break;
		default: fo_jw_lit(&jw, "null");
		}
	}
	if (jw.overflow) { /* keep the line valid JSON even when cut */
		jw.len = 0;
		jw.overflow = 0;
		fo_jw_lit(&jw, "{\"ts\":\"");
		fo_jw_cstr(&jw, ts);
		fo_jw_lit(&jw, "\",\"level\":\"error\",\"event_type\":\"log_truncated\",\"of\":");
		fo_jw_str(&jw, event_type, strlen(event_type));
	}
	fo_jw_char(&jw, '}');
	buf[jw.len++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, jw.len);
	(void)w;
}
