/*
 * test_zarr_writer: io/zarr_writer writes what zarr-python writes.
 *
 * Writes 2.5 chunks of a structured dtype with and without compression
 * threads, reads every chunk back with blosc_decompress and checks the
 * records, the zero padding of the last chunk, the Blosc typesize and the
 * `.zarray` fields; compares metadata text byte-for-byte with zarr-python's
 * output; and checks the error paths (missing parent -> -ENOENT naming the
 * path, a chunk file that cannot be written, a bad dtype).
 * Exit: 0 pass, 1 fail.
 */
#include <blosc.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fo_test.h"
#include "zarr_writer.h"

static char tmpdir[256];

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	rewind(f);
	char *b = malloc((size_t)len + 1);
	if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[len] = '\0';
		*n = (size_t)len;
	}
	return b;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* record: a <i8, b <f4[3], s <U4, c |u1 -> 8 + 12 + 16 + 1 = 37 bytes */
static const fo_zarrw_field fields[] = {
    {"a", "<i8", 0, {0, 0}},
    {"b", "<f4", 1, {3, 0}},
    {"s", "<U4", 0, {0, 0}},
    {"c", "|u1", 0, {0, 0}},
};
#define RECSZ 37
#define CHUNK 1000
#define NREC  2500

static void make_rec(unsigned char *r, long i)
{
	long long a = i * 3 + 1;
	float b[3] = {(float)i, (float)-i, 0.5f};
	unsigned int s[4] = {'a', 'b', 0, 0};
	memcpy(r, &a, 8);
	memcpy(r + 8, b, 12);
	memcpy(r + 20, s, 16);
	r[36] = (unsigned char)(i & 0xff);
}

static void write_array(const char *dir, unsigned nworkers)
{
	char err[512] = "";
	fo_zarrw_opts o = {fields, 4, CHUNK, "lz4", 5, 1, nworkers};
	fo_zarrw *zw;
	int rc = fo_zarrw_open(&zw, dir, &o, err, sizeof err);
	FO_CHECK_MSG(rc == 0, "open %s: %d %s", dir, rc, err);
	if (rc)
		return;
	FO_CHECK_MSG(fo_zarrw_record_size(zw) == RECSZ, "record size %zu",
	             fo_zarrw_record_size(zw));
	unsigned char batch[333 * RECSZ];
	long i = 0;
	size_t sizes[] = {1, 7, 333, 100, 2}; /* odd batches across chunk ends */
	for (int k = 0; i < NREC; k++) {
		size_t n = sizes[k % 5];
		if (n > (size_t)(NREC - i))
			n = (size_t)(NREC - i);
		for (size_t j = 0; j < n; j++)
			make_rec(batch + j * RECSZ, i + (long)j);
		rc = fo_zarrw_append(zw, batch, n, err, sizeof err);
		FO_CHECK_MSG(rc == 0, "append: %s", err);
		i += (long)n;
	}
	FO_CHECK_MSG(fo_zarrw_length(zw) == NREC, "length");
	rc = fo_zarrw_finish(zw, err, sizeof err);
	FO_CHECK_MSG(rc == 0, "finish: %s", err);
	fo_zarrw_destroy(zw);
}

static void check_array(const char *dir)
{
	char path[512];
	unsigned char want[RECSZ];
	for (int c = 0; c < 3; c++) {
		snprintf(path, sizeof path, "%s/%d", dir, c);
		size_t n;
		char *buf = slurp(path, &n);
		FO_CHECK_MSG(buf != NULL, "chunk %s missing", path);
		if (!buf)
			continue;
		FO_CHECK_MSG((unsigned char)buf[3] == RECSZ, "typesize %u", (unsigned char)buf[3]);
		size_t nbytes, cbytes, bsize;
		blosc_cbuffer_sizes(buf, &nbytes, &cbytes, &bsize);
		FO_CHECK_MSG(nbytes == CHUNK * RECSZ && cbytes == n,
		             "chunk %d: %zu bytes decoded, %zu stored (file %zu)", c, nbytes,
		             cbytes, n);
		unsigned char *out = malloc(CHUNK * RECSZ);
		int d = blosc_decompress(buf, out, CHUNK * RECSZ);
		FO_CHECK_MSG(d == CHUNK * RECSZ, "decompress chunk %d: %d", c, d);
		int bad = 0;
		for (long r = 0; r < CHUNK; r++) {
			long i = c * CHUNK + r;
			if (i < NREC)
				make_rec(want, i);
			else
				memset(want, 0, RECSZ); /* padding of the partial chunk */
			bad += memcmp(out + r * RECSZ, want, RECSZ) != 0;
		}
		FO_CHECK_MSG(bad == 0, "chunk %d: %d records differ", c, bad);
		free(out);
		free(buf);
	}
	snprintf(path, sizeof path, "%s/3", dir);
	FO_CHECK_MSG(access(path, F_OK) != 0, "unexpected chunk %s", path);

	size_t n;
	snprintf(path, sizeof path, "%s/.zarray", dir);
	char *txt = slurp(path, &n);
	FO_CHECK_MSG(txt != NULL, "no %s", path);
	if (!txt)
		return;
	cJSON *m = cJSON_Parse(txt);
	FO_CHECK_MSG(m != NULL, ".zarray does not parse");
	if (m) {
		cJSON *x;
		x = cJSON_GetObjectItemCaseSensitive(m, "shape");
		FO_CHECK_MSG(cJSON_GetArraySize(x) == 1 &&
		                 cJSON_GetArrayItem(x, 0)->valuedouble == NREC,
		             "shape");
		x = cJSON_GetObjectItemCaseSensitive(m, "chunks");
		FO_CHECK_MSG(cJSON_GetArraySize(x) == 1 &&
		                 cJSON_GetArrayItem(x, 0)->valuedouble == CHUNK,
		             "chunks");
		x = cJSON_GetObjectItemCaseSensitive(m, "zarr_format");
		FO_CHECK_MSG(cJSON_IsNumber(x) && x->valuedouble == 2, "zarr_format");
		x = cJSON_GetObjectItemCaseSensitive(m, "filters");
		FO_CHECK_MSG(cJSON_IsNull(x), "filters");
		x = cJSON_GetObjectItemCaseSensitive(m, "order");
		FO_CHECK_MSG(cJSON_IsString(x) && strcmp(x->valuestring, "C") == 0, "order");
		x = cJSON_GetObjectItemCaseSensitive(m, "fill_value");
		FO_CHECK_MSG(cJSON_IsString(x) &&
		                 strcmp(x->valuestring, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		                                        "AAAAAAAAAA==") == 0,
		             "fill_value %s", cJSON_IsString(x) ? x->valuestring : "?");
		x = cJSON_GetObjectItemCaseSensitive(m, "compressor");
		cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "id");
		cJSON *cn = cJSON_GetObjectItemCaseSensitive(x, "cname");
		cJSON *cl = cJSON_GetObjectItemCaseSensitive(x, "clevel");
		cJSON *sh = cJSON_GetObjectItemCaseSensitive(x, "shuffle");
		cJSON *bs = cJSON_GetObjectItemCaseSensitive(x, "blocksize");
		FO_CHECK_MSG(cJSON_IsString(id) && !strcmp(id->valuestring, "blosc") &&
		                 cJSON_IsString(cn) && !strcmp(cn->valuestring, "lz4") &&
		                 cJSON_IsNumber(cl) && cl->valuedouble == 5 && cJSON_IsNumber(sh) &&
		                 sh->valuedouble == 1 && cJSON_IsNumber(bs) && bs->valuedouble == 0,
		             "compressor");
		x = cJSON_GetObjectItemCaseSensitive(m, "dtype");
		char *dt = cJSON_PrintUnformatted(x);
		FO_CHECK_MSG(dt && !strcmp(dt, "[[\"a\",\"<i8\"],[\"b\",\"<f4\",[3]],"
		                               "[\"s\",\"<U4\"],[\"c\",\"|u1\"]]"),
		             "dtype %s", dt ? dt : "?");
		free(dt);
		cJSON_Delete(m);
	}
	free(txt);
}

/* Both files exist and hold the same bytes. */
static int same_file(const char *a, const char *b)
{
	size_t na, nb;
	char *x = slurp(a, &na), *y = slurp(b, &nb);
	int same = x && y && na == nb && memcmp(x, y, na) == 0;
	free(x);
	free(y);
	return same;
}

/* .zarray / .zgroup text equals zarr-python 2.13's for the same array. */
static void test_metadata_text(void)
{
	static const fo_zarrw_field f2[] = {
	    {"x", "<f8", 0, {0, 0}},
	    {"v", "<f4", 1, {2, 0}},
	};
	static const char want_zarray[] =
	    "{\n    \"chunks\": [\n        10\n    ],\n    \"compressor\": {\n"
	    "        \"blocksize\": 0,\n        \"clevel\": 5,\n"
	    "        \"cname\": \"lz4\",\n        \"id\": \"blosc\",\n"
	    "        \"shuffle\": 1\n    },\n    \"dtype\": [\n        [\n"
	    "            \"x\",\n            \"<f8\"\n        ],\n        [\n"
	    "            \"v\",\n            \"<f4\",\n            [\n"
	    "                2\n            ]\n        ]\n    ],\n"
	    "    \"fill_value\": \"AAAAAAAAAAAAAAAAAAAAAA==\",\n"
	    "    \"filters\": null,\n    \"order\": \"C\",\n    \"shape\": [\n"
	    "        3\n    ],\n    \"zarr_format\": 2\n}";
	char dir[512], arr[600], path[700], err[512];
	snprintf(dir, sizeof dir, "%s/group", tmpdir);
	int rc = fo_zarrw_group_create(dir, NULL, err, sizeof err);
	FO_CHECK_MSG(rc == 0, "group_create: %s", err);
	snprintf(path, sizeof path, "%s/.zgroup", dir);
	size_t n;
	char *txt = slurp(path, &n);
	FO_CHECK_MSG(txt && !strcmp(txt, "{\n    \"zarr_format\": 2\n}"), ".zgroup text");
	free(txt);

	snprintf(arr, sizeof arr, "%s/a", dir);
	fo_zarrw_opts o = {f2, 2, 10, NULL, 5, 1, 0};
	fo_zarrw *zw;
	rc = fo_zarrw_open(&zw, arr, &o, err, sizeof err);
	FO_CHECK_MSG(rc == 0, "open: %s", err);
	if (rc)
		return;
	unsigned char zero[3 * 16] = {0};
	FO_CHECK_MSG(fo_zarrw_append(zw, zero, 3, err, sizeof err) == 0, "append");
	FO_CHECK_MSG(fo_zarrw_finish(zw, err, sizeof err) == 0, "finish: %s", err);
	fo_zarrw_destroy(zw);
	snprintf(path, sizeof path, "%s/.zarray", arr);
	txt = slurp(path, &n);
	FO_CHECK_MSG(txt && !strcmp(txt, want_zarray), ".zarray text differs:\n%s",
	             txt ? txt : "(missing)");
	free(txt);
}

static void test_json_format(void)
{
	/* json.dumps(d, indent=4, sort_keys=True, ensure_ascii=True) */
	static const char want[] =
	    "{\n    \"a\": {\n        \"x\": \"q\\\"\\\\\\n\\u00e9\\ud83d\\ude00\",\n"
	    "        \"y\": true,\n        \"z\": null\n    },\n    \"b\": [\n"
	    "        1,\n        2.5,\n        0.1,\n        1e-16,\n"
	    "        -3.05311332e-16,\n        [],\n        {}\n    ],\n"
	    "    \"c\": 123456789012\n}";
	cJSON *d = cJSON_CreateObject();
	cJSON *b = cJSON_AddArrayToObject(d, "b");
	cJSON_AddItemToArray(b, cJSON_CreateNumber(1));
	cJSON_AddItemToArray(b, cJSON_CreateNumber(2.5));
	cJSON_AddItemToArray(b, cJSON_CreateNumber(0.1));
	cJSON_AddItemToArray(b, cJSON_CreateNumber(1e-16));
	cJSON_AddItemToArray(b, cJSON_CreateRaw("-3.05311332e-16"));
	cJSON_AddItemToArray(b, cJSON_CreateArray());
	cJSON_AddItemToArray(b, cJSON_CreateObject());
	cJSON *a = cJSON_AddObjectToObject(d, "a");
	cJSON_AddNullToObject(a, "z");
	cJSON_AddTrueToObject(a, "y");
	cJSON_AddStringToObject(a, "x", "q\"\\\n\xc3\xa9\xf0\x9f\x98\x80");
	cJSON_AddNumberToObject(d, "c", 123456789012.0);
	char path[512], err[512];
	snprintf(path, sizeof path, "%s/t.json", tmpdir);
	int rc = fo_zarrw_write_json(path, d, FO_ZARRW_JSON_SORT_KEYS, err, sizeof err);
	FO_CHECK_MSG(rc == 0, "write_json: %s", err);
	size_t n;
	char *txt = slurp(path, &n);
	FO_CHECK_MSG(txt && !strcmp(txt, want), "json text differs:\n%s", txt ? txt : "");
	free(txt);
	cJSON_Delete(d);
}

static void test_errors(void)
{
	char dir[512], err[512] = "";
	fo_zarrw *zw = NULL;
	fo_zarrw_opts o = {fields, 4, CHUNK, "lz4", 5, 1, 2};

	/* parent directory missing */
	snprintf(dir, sizeof dir, "%s/no/such/dir/agents", tmpdir);
	int rc = fo_zarrw_open(&zw, dir, &o, err, sizeof err);
	FO_CHECK_MSG(rc == -ENOENT, "missing parent: rc %d, want -ENOENT", rc);
	FO_CHECK_MSG(strstr(err, dir) != NULL, "message does not name %s: '%s'", dir, err);
	FO_CHECK_MSG(zw == NULL, "writer returned on failure");

	/* bad dtype */
	static const fo_zarrw_field bad[] = {{"x", "<f3", 0, {0, 0}}};
	fo_zarrw_opts ob = {bad, 1, 10, "lz4", 5, 1, 0};
	snprintf(dir, sizeof dir, "%s/bad", tmpdir);
	rc = fo_zarrw_open(&zw, dir, &ob, err, sizeof err);
	FO_CHECK_MSG(rc == -EINVAL && strstr(err, "<f3"), "bad dtype: %d '%s'", rc, err);

	/* a chunk file that cannot be written: the directory vanishes after
	 * open; the worker's error reaches the caller, naming the chunk */
	for (unsigned nw = 0; nw <= 2; nw += 2) {
		snprintf(dir, sizeof dir, "%s/gone%u", tmpdir, nw);
		o.nworkers = nw;
		rc = fo_zarrw_open(&zw, dir, &o, err, sizeof err);
		FO_CHECK_MSG(rc == 0, "open %s: %s", dir, err);
		if (rc)
			continue;
		char zarray[600];
		snprintf(zarray, sizeof zarray, "%s/.zarray", dir);
		FO_CHECK_MSG(unlink(zarray) == 0 && rmdir(dir) == 0, "remove %s", dir);
		unsigned char *recs = calloc(CHUNK, RECSZ);
		int rc1 = 0;
		for (int k = 0; k < 4 && rc1 == 0; k++)
			rc1 = fo_zarrw_append(zw, recs, CHUNK, err, sizeof err);
		if (rc1 == 0)
			rc1 = fo_zarrw_finish(zw, err, sizeof err);
		FO_CHECK_MSG(rc1 == -ENOENT, "workers %u: vanished dir gives %d, want -ENOENT", nw,
		             rc1);
		FO_CHECK_MSG(strstr(err, dir) != NULL, "message does not name %s: '%s'", dir, err);
		free(recs);
		fo_zarrw_destroy(zw);
	}

	/* empty array: shape [0], no chunk */
	snprintf(dir, sizeof dir, "%s/empty", tmpdir);
	o.nworkers = 1;
	rc = fo_zarrw_open(&zw, dir, &o, err, sizeof err);
	FO_CHECK_MSG(rc == 0, "open empty: %s", err);
	if (rc == 0) {
		FO_CHECK_MSG(fo_zarrw_finish(zw, err, sizeof err) == 0, "finish empty");
		fo_zarrw_destroy(zw);
		char p[600];
		snprintf(p, sizeof p, "%s/0", dir);
		FO_CHECK_MSG(access(p, F_OK) != 0, "empty array wrote a chunk");
	}
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/fo-zarrw-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	blosc_init();

	char a[512], b[512], p[600], q[600];
	snprintf(a, sizeof a, "%s/threads2", tmpdir);
	snprintf(b, sizeof b, "%s/inline", tmpdir);
	write_array(a, 2);
	write_array(b, 0);
	check_array(a);
	check_array(b);
	for (int c = 0; c < 3; c++) { /* chunk bytes do not depend on threads */
		snprintf(p, sizeof p, "%s/%d", a, c);
		snprintf(q, sizeof q, "%s/%d", b, c);
		FO_CHECK_MSG(same_file(p, q), "chunk %d differs between thread counts", c);
	}
	test_metadata_text();
	test_json_format();
	test_errors();

	blosc_destroy();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return fo_test_done("test_zarr_writer");
}
