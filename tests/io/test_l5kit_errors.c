/*
 * Unit: bad input gives a clear error that names the file, the array and
 * the chunk, and fleetopsd exits 1 without a crash: missing or malformed
 * .zarray, unsupported compressor or dtype, a missing field, truncated and
 * corrupt chunks, a chunk of the wrong decoded size, intervals out of range.
 * A missing chunk file reads as fill_value (zarr spec).
 */
#include "fo_test.h"
#include "l5kit_fixture.h"
#include "zarr.h"

static const char *bin;
static char tmp[] = "/tmp/fo_l5kit_errors_XXXXXX";
static int ncase;

static fx_frame fr[4];
static int bounds[2] = {0, 4};

static void fresh(char *root, size_t cap)
{
	snprintf(root, cap, "%s/case%d.zarr", tmp, ++ncase);
	if (fx_write_dataset(root, fr, 4, bounds, 1, 3) != 0) { /* 8 agents: chunks 0,1,2 */
		fprintf(stderr, "cannot write fixture %s\n", root);
		exit(1);
	}
}

/* Runs fleetopsd on root and checks exit status 1 and that stderr holds
 * every one of the NULL-terminated needles. */
static void expect_error(const char *what, const char *root, ...)
{
	char errf[4300];
	snprintf(errf, sizeof(errf), "%s/err%d.txt", tmp, ncase);
	int st = fx_sh("%s/bin/fleetopsd run --dataset %s --speed max --sink ndjson:%s/out%d "
	               "--progress 0 > /dev/null 2> %s",
	               bin, root, tmp, ncase, errf);
	FO_CHECK_MSG(st == 1, "%s: exit status %d, expected 1", what, st);
	FILE *f = fopen(errf, "r");
	char text[16384] = "";
	if (f) {
		size_t n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	va_list ap;
	va_start(ap, root);
	for (const char *needle; (needle = va_arg(ap, const char *));)
		FO_CHECK_MSG(strstr(text, needle) != NULL, "%s: error does not mention \"%s\":\n%s",
		             what, needle, text);
	va_end(ap);
	FO_CHECK_MSG(strstr(text, "\"level\":\"error\"") != NULL, "%s: no JSON error line", what);
}

static void rewrite_zarray(const char *root, const char *array, const char *from, const char *to)
{
	FO_CHECK(fx_sh("sed -i 's/%s/%s/' %s/%s/.zarray", from, to, root, array) == 0);
}

int main(void)
{
	bin = getenv("FO_BINARY_DIR");
	if (!bin)
		FO_SKIP("FO_BINARY_DIR not set (run through ctest)");
	if (!mkdtemp(tmp))
		return 1;
	for (int i = 0; i < 4; i++) {
		fr[i].ts = 1000000000LL + i * 100000000LL;
		fr[i].nagents = 2;
		for (int k = 0; k < 2; k++)
			fr[i].agents[k] =
			    (fx_agent){10.0 * k + i, 1, 0.1f, 1, 0, (uint64_t)k + 1, 0.9f};
	}
	char root[4200], path[4400];

	fresh(root, sizeof(root));
	FO_CHECK(fx_sh("%s/bin/fleetopsd run --dataset %s --speed max --sink null --progress 0 "
	               ">/dev/null 2>&1",
	               bin, root) == 0); /* the fixture itself is fine */

	fresh(root, sizeof(root));
	snprintf(path, sizeof(path), "%s/agents/.zarray", root);
	unlink(path);
	expect_error("missing .zarray", root, "agents/.zarray", "No such file", NULL);

	fresh(root, sizeof(root));
	FO_CHECK(fx_sh("echo '{\"zarr_format\": 2, \"shape\": [8' > %s/frames/.zarray", root) == 0);
	expect_error("malformed .zarray", root, "frames/.zarray", "malformed JSON", NULL);

	fresh(root, sizeof(root));
	rewrite_zarray(root, "agents", "\\[\"centroid\", \"<f8\", \\[2\\]\\]",
	               "[\"centroid\", \"<U16\", [2]]");
	expect_error("wrong dtype", root, "agents/.zarray", "centroid", "<U16", "expected a number",
	             NULL);

	fresh(root, sizeof(root));
	rewrite_zarray(root, "agents", "\\[\"velocity\", \"<f4\", \\[2\\]\\], ", "");
	rewrite_zarray(root, "agents", "\"yaw\", \"<f4\"\\]",
	               "\"yaw\", \"<f4\"], [\"pad\", \"<f4\", [2]]");
	expect_error("missing field", root, "agents/.zarray", "no field \\\"velocity\\\"", NULL);

	fresh(root, sizeof(root));
	rewrite_zarray(root, "agents", "\"yaw\", \"<f4\"", "\"yaw\", \">f4\"");
	expect_error("big-endian dtype", root, "agents/.zarray", "yaw", "unsupported dtype", NULL);

	fresh(root, sizeof(root));
	rewrite_zarray(root, "frames", "\"id\": \"blosc\"", "\"id\": \"zstd\"");
	expect_error("unsupported compressor", root, "frames/.zarray",
	             "unsupported compressor \\\"zstd\\\"", NULL);

	fresh(root, sizeof(root));
	snprintf(path, sizeof(path), "%s/agents/1", root);
	FO_CHECK(truncate(path, 40) == 0);
	expect_error("truncated chunk", root, "agents/1", "chunk 1", "array \\\"agents\\\"",
	             "truncated", NULL);

	fresh(root, sizeof(root));
	FO_CHECK(fx_sh("truncate -s 10 %s/agents/2", root) == 0);
	expect_error("chunk shorter than a header", root, "agents/2", "chunk 2", "truncated", NULL);

	fresh(root, sizeof(root)); /* garbage in the compressed streams */
	FO_CHECK(fx_sh("f=%s/agents/0; n=$(stat -c %%s $f); "
	               "head -c 20 $f > $f.new && head -c $((n - 20)) /dev/zero | tr '\\0' '\\377' "
	               ">> $f.new "
	               "&& mv $f.new $f",
	               root) == 0);
	expect_error("corrupt chunk", root, "agents/0", "chunk 0", "corrupt", NULL);

	fresh(root, sizeof(root)); /* a garbage header */
	FO_CHECK(
	    fx_sh("printf 'XXXXXXXXXXXXXXXXXXXXXXXX' | dd of=%s/frames/0 conv=notrunc 2>/dev/null",
	          root) == 0);
	expect_error("corrupt header", root, "frames/0", "chunk 0", "array \\\"frames\\\"", NULL);

	fresh(root, sizeof(root)); /* chunks of 3 records declared as 4 */
	rewrite_zarray(root, "agents", "\"chunks\": \\[3\\]", "\"chunks\": [4]");
	expect_error("wrong decoded size", root, "agents/0", "decodes to 348 bytes, expected 464",
	             NULL);

	/* frame/agent intervals out of range */
	{
		fx_frame bad[4];
		memcpy(bad, fr, sizeof(bad));
		snprintf(root, sizeof(root), "%s/case%d.zarr", tmp, ++ncase);
		FO_CHECK(fx_write_dataset(root, bad, 4, bounds, 1, 3) == 0);
		rewrite_zarray(root, "agents", "\"shape\": \\[8\\]", "\"shape\": [6]");
		expect_error("agent interval out of range", root, "frames", "agent_index_interval",
		             "[6, 8)", "outside the agents array of 6", NULL);

		int bb[2] = {0, 4};
		snprintf(root, sizeof(root), "%s/case%d.zarr", tmp, ++ncase);
		FO_CHECK(fx_write_dataset(root, bad, 4, bb, 1, 3) == 0);
		rewrite_zarray(root, "frames", "\"shape\": \\[4\\]", "\"shape\": [3]");
		expect_error("frame interval out of range", root, "scenes", "scene 0",
		             "frame_index_interval [0, 4)", NULL);
	}

	fresh(root, sizeof(root));
	snprintf(path, sizeof(path), "%s/.zgroup", root);
	unlink(path);
	expect_error("not a zarr group", root, ".zgroup", NULL);

	/* bad --scenes is a clear error too */
	fresh(root, sizeof(root));
	{
		int st =
		    fx_sh("%s/bin/fleetopsd run --dataset %s --scenes 3-9 --speed max --sink null "
		          "--progress 0 >/dev/null 2>%s/scenes.txt",
		          bin, root, tmp);
		FO_CHECK(st == 1);
		FO_CHECK(fx_sh("grep -q 'outside the dataset' %s/scenes.txt", tmp) == 0);
	}

	/* a missing chunk file reads as fill_value */
	fresh(root, sizeof(root));
	{
		/* fill_value: one agent record whose track_id is 77 */
		uint8_t rec[FX_AGENT_SIZE] = {0};
		uint64_t track = 77;
		memcpy(rec + 40, &track, 8);
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		char enc[200];
		size_t o = 0;
		for (size_t i = 0; i < sizeof(rec); i += 3) {
			uint32_t v = (uint32_t)rec[i] << 16 |
			             (uint32_t)(i + 1 < sizeof(rec) ? rec[i + 1] : 0) << 8 |
			             (i + 2 < sizeof(rec) ? rec[i + 2] : 0);
			enc[o++] = b64[v >> 18 & 63];
			enc[o++] = b64[v >> 12 & 63];
			enc[o++] = i + 1 < sizeof(rec) ? b64[v >> 6 & 63] : '=';
			enc[o++] = i + 2 < sizeof(rec) ? b64[v & 63] : '=';
		}
		enc[o] = '\0';
		char to[300];
		snprintf(to, sizeof(to), "\"fill_value\": \"%s\"", enc);
		rewrite_zarray(root, "agents", "\"fill_value\": null", to);
		snprintf(path, sizeof(path), "%s/agents/1", root);
		unlink(path);
		char err[1024];
		fo_zarr_array a;
		FO_CHECK(fo_zarr_array_open(&a, root, "agents", err, sizeof(err)) == 0);
		for (unsigned ndec = 0; ndec <= 2; ndec++) { /* inline, then decode threads */
			fo_chunkio *cio = fo_chunkio_new(FO_CHUNKIO_AUTO, 2, err, sizeof(err));
			fo_zarr_cursor *c = fo_zarr_cursor_new(&a, cio, 1);
			FO_CHECK(fo_zarr_cursor_set_decoders(c, ndec, FO_CHUNKIO_AUTO, 2, err,
			                                     sizeof(err)) == 0);
			uint64_t lo = 0, hi = 8;
			FO_CHECK(fo_zarr_cursor_begin(c, &lo, &hi, 1, err, sizeof(err)) == 0);
			const fo_zarr_field *tf = fo_zarr_field_find(&a, "track_id");
			for (uint64_t i = 0; i < 8; i++) {
				const uint8_t *r = fo_zarr_cursor_get(c, i, err, sizeof(err));
				FO_CHECK_MSG(r != NULL, "record %d: %s", (int)i, err);
				if (!r)
					break;
				int64_t want = i >= 3 && i < 6 ? 77 : (int64_t)(i % 2) + 1;
				FO_CHECK_MSG(fo_zarr_get_i64(r, tf, 0) == want,
				             "record %d (%u decoders)", (int)i, ndec);
			}
			/* going back to an earlier chunk is an error, not a silent re-read */
			FO_CHECK(fo_zarr_cursor_get(c, 0, err, sizeof(err)) == NULL);
			FO_CHECK(strstr(err, "out of order") != NULL);
			/* a second pass over the same cursor restarts cleanly */
			uint64_t lo2 = 4, hi2 = 7;
			FO_CHECK(fo_zarr_cursor_begin(c, &lo2, &hi2, 1, err, sizeof(err)) == 0);
			const uint8_t *r6 = fo_zarr_cursor_get(c, 6, err, sizeof(err));
			FO_CHECK(r6 && fo_zarr_get_i64(r6, tf, 0) == 1);
			fo_zarr_cursor_destroy(c); /* mid-pass: decode threads stop */
			fo_chunkio_destroy(cio);
		}
		fo_zarr_array_close(&a);
	}

	fx_sh("rm -rf %s", tmp);
	return fo_test_done("test_l5kit_errors");
}
