/*
 * fleetops-topics: create or delete Kafka topics with librdkafka's admin
 * API, for tests and scripts that need topics of their own (the broker
 * does not create topics on first use) without a JVM start per topic.
 *
 * One admin request per command for all the topics named; each topic's
 * result is reported. Exit status: 0 every topic done (an existing topic
 * on create, a missing one on delete, count as done), 1 a broker or topic
 * error, 2 usage.
 */
#include "log.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FO_TOPICS_MAX 64

static void fo_usage(FILE *f)
{
	fprintf(f,
	        "Usage: fleetops-topics [--brokers HOST:PORT] create NAME[:PARTITIONS]...\n"
	        "       fleetops-topics [--brokers HOST:PORT] delete NAME...\n"
	        "\n"
	        "Creates (replication 1; 1 partition unless NAME:PARTITIONS says otherwise) or\n"
	        "deletes Kafka topics. A topic that already exists (create) or does not exist\n"
	        "(delete) is not an error. The FleetOps topics themselves are created by\n"
	        "tools/services.sh; this is for tests and scripts that want topics of their own.\n"
	        "\n"
	        "  --brokers HOST:PORT   bootstrap servers (default $KAFKA_BROKERS, else\n"
	        "                        127.0.0.1:9092)\n"
	        "  -h, --help            this text\n"
	        "\n"
	        "Example: fleetops-topics create test_anomalies:6 test_actions:3\n"
	        "Exit status: 0 done, 1 a broker or topic error (named), 2 bad usage.\n");
}

int main(int argc, char **argv)
{
	fo_log_init("fleetops-topics");
	const char *brokers = getenv("KAFKA_BROKERS");
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fo_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
			brokers = argv[++i];
			continue;
		}
		fprintf(stderr, "fleetops-topics: unknown option %s; try --help\n", argv[i]);
		return 2;
	}
	if (!brokers || !*brokers)
		brokers = "127.0.0.1:9092";
	if (i >= argc || (strcmp(argv[i], "create") != 0 && strcmp(argv[i], "delete") != 0) ||
	    argc - i - 1 < 1 || argc - i - 1 > FO_TOPICS_MAX) {
		fprintf(stderr,
		        "fleetops-topics: want create|delete and 1..%d topics; try --help\n",
		        FO_TOPICS_MAX);
		return 2;
	}
	int create = strcmp(argv[i], "create") == 0;
	char **names = argv + i + 1;
	int n = argc - i - 1;

	char e[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "fleetops-topics: --brokers %s: %s\n", brokers, e);
		rd_kafka_conf_destroy(c);
		return 2;
	}
	rd_kafka_conf_set(c, "log_level", "3", e, sizeof(e));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
	if (!rk) {
		fprintf(stderr, "fleetops-topics: %s\n", e);
		rd_kafka_conf_destroy(c);
		return 1;
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_NewTopic_t *nt[FO_TOPICS_MAX];
	rd_kafka_DeleteTopic_t *dt[FO_TOPICS_MAX];
	for (int k = 0; k < n; k++) {
		char name[256];
		snprintf(name, sizeof(name), "%s", names[k]);
		char *colon = strchr(name, ':');
		long parts = 1;
		if (colon) {
			char *end;
			*colon = '\0';
			parts = strtol(colon + 1, &end, 10);
			if (!create || end == colon + 1 || *end || parts < 1 || parts > 1000) {
				fprintf(stderr,
				        "fleetops-topics: %s: want NAME:PARTITIONS (1..1000)\n",
				        names[k]);
				return 2;
			}
		}
		if (create) {
			nt[k] = rd_kafka_NewTopic_new(name, (int)parts, 1, e, sizeof(e));
			if (!nt[k]) {
				fprintf(stderr, "fleetops-topics: %s: %s\n", name, e);
				return 2;
			}
		} else {
			dt[k] = rd_kafka_DeleteTopic_new(name);
		}
	}
	if (create)
		rd_kafka_CreateTopics(rk, nt, (size_t)n, NULL, q);
	else
		rd_kafka_DeleteTopics(rk, dt, (size_t)n, NULL, q);
	int rc = 0;
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
	if (!ev || rd_kafka_event_error(ev)) {
		fprintf(stderr, "fleetops-topics: %s at %s: %s\n", create ? "create" : "delete",
		        brokers, ev ? rd_kafka_event_error_string(ev) : "no answer within 30 s");
		rc = 1;
	} else {
		size_t nr = 0;
		const rd_kafka_topic_result_t **r =
		    create ? rd_kafka_CreateTopics_result_topics(
		                 rd_kafka_event_CreateTopics_result(ev), &nr)
		           : rd_kafka_DeleteTopics_result_topics(
		                 rd_kafka_event_DeleteTopics_result(ev), &nr);
		for (size_t k = 0; k < nr; k++) {
			rd_kafka_resp_err_t te = rd_kafka_topic_result_error(r[k]);
			if (te == RD_KAFKA_RESP_ERR_NO_ERROR ||
			    (create && te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) ||
			    (!create && te == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART))
				continue;
			fprintf(stderr, "fleetops-topics: topic %s: %s\n",
			        rd_kafka_topic_result_name(r[k]),
			        rd_kafka_topic_result_error_string(r[k]));
			rc = 1;
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	for (int k = 0; k < n; k++) {
		if (create)
			rd_kafka_NewTopic_destroy(nt[k]);
		else
			rd_kafka_DeleteTopic_destroy(dt[k]);
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}
