/*
 * fo_test: the tiny harness every C test uses. A test is a CTest executable:
 * exit 0 pass, 1 fail, 77 skip (with a printed reason).
 */
#ifndef FO_TEST_H
#define FO_TEST_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int fo_test_failures;

#define FO_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			fo_test_failures++;                                                        \
		}                                                                                  \
	} while (0)

#define FO_CHECK_MSG(cond, ...)                                                                    \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			fo_test_failures++;                                                        \
		}                                                                                  \
	} while (0)

#define FO_CHECK_NEAR(a, b, tol)                                                                   \
	do {                                                                                       \
		double _a = (a), _b = (b);                                                         \
		if (!(fabs(_a - _b) <= (tol))) {                                                   \
			fprintf(stderr, "%s:%d: %s = %.9g, expected %s = %.9g (tol %g)\n",         \
			        __FILE__, __LINE__, #a, _a, #b, _b, (double)(tol));                \
			fo_test_failures++;                                                        \
		}                                                                                  \
	} while (0)

#define FO_CHECK_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || strcmp(_a, _b) != 0) {                                                  \
			fprintf(stderr, "%s:%d: %s = \"%s\", expected \"%s\"\n", __FILE__,         \
			        __LINE__, #a, _a ? _a : "(null)", _b);                             \
			fo_test_failures++;                                                        \
		}                                                                                  \
	} while (0)

#define FO_SKIP(...)                                                                               \
	do {                                                                                       \
		printf("SKIP: ");                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		exit(77);                                                                          \
	} while (0)

static inline int fo_test_done(const char *name)
{
	if (fo_test_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, fo_test_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	return 0;
}

/* Path of ../shared/l5kit/single_scene.zarr next to the checkout, or NULL. */
static inline const char *fo_test_real_scene(char *buf, size_t cap)
{
	const char *src = getenv("FO_SOURCE_DIR");
	snprintf(buf, cap, "%s/../shared/l5kit/single_scene.zarr", src ? src : ".");
	FILE *f;
	char probe[4200];
	snprintf(probe, sizeof(probe), "%s/agents/.zarray", buf);
	if (!(f = fopen(probe, "r")))
		return NULL;
	fclose(f);
	return buf;
}

/* Runs a shell command; returns its exit status (or -1 if it did not exit). */
static int fo_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static int fo_test_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return st < 0 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

#endif
