/*
 * kafka_conf: what every librdkafka client of FleetOps shares: applying
 * "key=value" settings with errors that name the client and the key, and
 * librdkafka's log lines as FleetOps JSON log lines. Any thread.
 */
#ifndef FO_KAFKA_CONF_H
#define FO_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Sets key to val; who names the client in the error ("producer",
 * "consumer", "DLQ producer"). Returns 0 or -1 with err. */
int fo_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, const char *who,
                      char *err, size_t errsz);

/* Applies n "key=value" settings in order (later ones win); the first bad
 * one is the error. Returns 0 or -1 with err. */
int fo_kafka_conf_apply(rd_kafka_conf_t *conf, const char *const *kvs, size_t n, const char *who,
                        char *err, size_t errsz);

/* librdkafka log callback: one JSON log line per message, with the
 * client's name and the facility. */
void fo_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
