/*
 * Unit: the operator's HTTP layer without Kafka or PostgreSQL. The server
 * runs on a free port with an ingest that never started (Kafka "down")
 * and a database address nobody listens on, so every answer that needs no
 * database is checked for real, and one that does is a 503 naming the
 * problem, without the network thread ever waiting on it.
 */
#include "fo_test.h"
#include "http.h"
#include "ingest.h"

#include <cjson/cJSON.h>
#include <signal.h>

static int port;

/* libwebsockets 4.1 leaks 72 bytes when a context fails to bind (the
 * port-in-use case below); not ours to fix, so LeakSanitizer builds
 * ignore that library's allocations here. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libwebsockets.so\n";
}

/* GET (or method) path: the status code; the body parsed into *body. */
static int req(const char *method, const char *path, cJSON **body)
{
	char cmd[1024], buf[65536];
	snprintf(cmd, sizeof(cmd),
	         "curl -s -m 20 -X %s -w '\\n%%{http_code}' 'http://127.0.0.1:%d%s'", method, port,
	         path);
	FILE *p = popen(cmd, "r");
	size_t n = p ? fread(buf, 1, sizeof(buf) - 1, p) : 0;
	if (p)
		pclose(p);
	buf[n] = '\0';
	char *nl = strrchr(buf, '\n');
	int code = nl ? atoi(nl + 1) : -1;
	if (nl)
		*nl = '\0';
	*body = cJSON_Parse(buf);
	return code;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(it) ? it->valuestring : "(missing)";
}

int main(void)
{
	if (fo_test_sh("command -v curl >/dev/null") != 0)
		FO_SKIP("curl not installed");
	char err[1024];
	volatile sig_atomic_t stop = 0;
	fo_ingest_conf ic = {.dsn = "host=127.0.0.1 port=1 dbname=none user=none connect_timeout=2",
	                     .stop = &stop};
	fo_ingest *in = fo_ingest_new(&ic, err, sizeof(err));
	FO_CHECK(in != NULL);

	/* bad addresses are refused with the reason */
	fo_http_conf bad = {.listen = "8080", .dsn = ic.dsn, .in = in};
	FO_CHECK(fo_http_start(&bad, err, sizeof(err)) == NULL && strstr(err, "HOST:PORT"));
	bad.listen = "127.0.0.1:99999";
	FO_CHECK(fo_http_start(&bad, err, sizeof(err)) == NULL);

	fo_http_conf hc = {.listen = "127.0.0.1:0", .dsn = ic.dsn, .in = in};
	fo_http *h = fo_http_start(&hc, err, sizeof(err));
	FO_CHECK_MSG(h != NULL, "%s", err);
	if (!h)
		return fo_test_done("test_http");
	port = fo_http_port(h);
	FO_CHECK(port > 0);

	/* a second server on the same port fails */
	char taken[64];
	snprintf(taken, sizeof(taken), "127.0.0.1:%d", port);
	hc.listen = taken;
	FO_CHECK(fo_http_start(&hc, err, sizeof(err)) == NULL && strstr(err, taken));

	cJSON *b;
	FO_CHECK(req("GET", "/health", &b) == 503);
	FO_CHECK_STR(str(b, "status"), "degraded");
	FO_CHECK_STR(str(b, "kafka"), "down");
	FO_CHECK_STR(str(b, "postgres"), "down");
	FO_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(b, "consumer_lag")));
	cJSON_Delete(b);

	/* filters are checked before any database work */
	static const char *const bad_paths[] = {
	    "/alerts?status=open",        "/alerts?severity=LOW", "/alerts?limit=0",
	    "/alerts?limit=1001",         "/alerts?limit=ten",    "/alerts?vehicle_id=",
	    "/alerts?status=OPEN&limit=", "/alerts?limit=5x",
	};
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		int code = req("GET", bad_paths[i], &b);
		FO_CHECK_MSG(code == 400, "%s: %d", bad_paths[i], code);
		FO_CHECK_MSG(strcmp(str(b, "error"), "(missing)") != 0, "%s: no error field",
		             bad_paths[i]);
		cJSON_Delete(b);
	}
	FO_CHECK(req("GET", "/nowhere", &b) == 404);
	FO_CHECK(strstr(str(b, "error"), "/alerts") != NULL);
	cJSON_Delete(b);
	FO_CHECK(req("DELETE", "/alerts", &b) == 405);
	cJSON_Delete(b);

	/* a query while the database is unreachable: 503 with the reason, and
	 * the loop still answers meanwhile */
	FO_CHECK(req("GET", "/alerts?severity=CRITICAL&limit=10", &b) == 503);
	FO_CHECK_MSG(strstr(str(b, "error"), "127.0.0.1") != NULL, "%s", str(b, "error"));
	cJSON_Delete(b);
	FO_CHECK(req("GET", "/health", &b) == 503);
	cJSON_Delete(b);

	fo_http_stop(h);
	fo_ingest_destroy(in);
	return fo_test_done("test_http");
}
