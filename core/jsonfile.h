/*
 * jsonfile: reads a small JSON document (metadata, configuration) from a
 * file with cJSON, for the edges only. Any thread.
 */
#ifndef FO_JSONFILE_H
#define FO_JSONFILE_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parses the file at path (at most 16 MiB). Returns the document (free with
 * cJSON_Delete), or NULL with err: "PATH: <strerror>" or "PATH: malformed
 * JSON near byte N". */
cJSON *fo_json_load_file(const char *path, char *err, size_t errsz);

#endif
