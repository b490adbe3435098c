/*
 * kafka_conf: see kafka_conf.h.
 */
#include "kafka_conf.h"

#include "log.h"

#include <stdio.h>
#include <string.h>

int fo_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, const char *who,
                      char *err, size_t errsz)
{
	char e[256];
	if (rd_kafka_conf_set(conf, key, val, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errsz, "Kafka %s setting %s: %s", who, key, e);
		return -1;
	}
	return 0;
}

int fo_kafka_conf_apply(rd_kafka_conf_t *conf, const char *const *kvs, size_t n, const char *who,
                        char *err, size_t errsz)
{
	for (size_t i = 0; i < n; i++) {
		char key[256];
		const char *eq = strchr(kvs[i], '=');
		if (!eq || eq == kvs[i] || (size_t)(eq - kvs[i]) >= sizeof(key)) {
			snprintf(err, errsz, "Kafka %s setting \"%s\": expected key=value", who,
			         kvs[i]);
			return -1;
		}
		memcpy(key, kvs[i], (size_t)(eq - kvs[i]));
		key[eq - kvs[i]] = '\0';
		if (fo_kafka_conf_set(conf, key, eq + 1, who, err, errsz) < 0)
			return -1;
	}
	return 0;
}

void fo_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	fo_log(level <= 3   ? FO_LOG_ERROR
	       : level <= 4 ? FO_LOG_WARN
	                    : FO_LOG_DEBUG,
	       "kafka_log", buf, FO_KS("client", rd_kafka_name(rk)), FO_KS("facility", fac));
}
