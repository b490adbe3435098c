/*
 * jsonfile: see jsonfile.h.
 */
#include "jsonfile.h"

#include <errno.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

/* Reads a whole small file (metadata) into a NUL-terminated heap buffer. */
static char *fo_read_small_file(const char *path, int *errnum)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*errnum = errno;
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = mi_malloc(cap);
	for (;;) {
		if (!buf) {
			fclose(f);
			*errnum = ENOMEM;
			return NULL;
		}
		len += fread(buf + len, 1, cap - 1 - len, f);
		if (len < cap - 1)
			break;
		if (cap > (16u << 20)) { /* metadata is never this big */
			mi_free(buf);
			fclose(f);
			*errnum = EFBIG;
			return NULL;
		}
		cap *= 2;
		buf = mi_realloc(buf, cap);
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		mi_free(buf);
		*errnum = EIO;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

cJSON *fo_json_load_file(const char *path, char *err, size_t errsz)
{
	int e = 0;
	char *text = fo_read_small_file(path, &e);
	if (!text) {
		snprintf(err, errsz, "%s: %s", path, strerror(e));
		return NULL;
	}
	cJSON *j = cJSON_Parse(text);
	if (!j) {
		const char *at = cJSON_GetErrorPtr();
		snprintf(err, errsz, "%s: malformed JSON near byte %ld", path,
		         at ? (long)(at - text) : -1L);
	}
	mi_free(text);
	return j;
}
