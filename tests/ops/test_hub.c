/*
 * Unit: the broadcast hub (ops/hub.c). Publishers on several threads, the
 * inbox taken in publish order with increasing sequence numbers, the wake
 * function called once per publish and never after it is cleared, and a
 * client queue that refuses the message past FO_HUB_Q_CAP (the slow
 * client is dropped, nothing waits), drops what a snapshot already holds,
 * puts the snapshot first, and releases every reference (the sanitizer
 * builds check that nothing leaks).
 */
#include "fo_test.h"
#include "hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4
#define PER     5000

static atomic_int wakes;

static void wake(void *arg)
{
	(void)arg;
	atomic_fetch_add(&wakes, 1);
}

static void *publisher(void *arg)
{
	fo_hub *hub = arg;
	char msg[64];
	for (int i = 0; i < PER; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"type\":\"t\",\"i\":%d}", i);
		fo_hub_publish(hub, msg, (size_t)n);
	}
	return NULL;
}

int main(void)
{
	fo_hub *hub = fo_hub_new(wake, NULL);
	FO_CHECK(hub != NULL);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, publisher, hub);
	size_t taken = 0;
	uint64_t last_seq = 0;
	int in_order = 1;
	while (taken < THREADS * PER) {
		fo_hub_msg *m = fo_hub_take(hub);
		while (m) {
			fo_hub_msg *next = m->next;
			in_order &= m->seq == last_seq + 1;
			last_seq = m->seq;
			taken++;
			fo_hub_msg_unref(m);
			m = next;
		}
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	FO_CHECK(in_order);
	FO_CHECK(fo_hub_seq(hub) == THREADS * PER);
	FO_CHECK(fo_hub_published(hub) == THREADS * PER);
	FO_CHECK(atomic_load(&wakes) == THREADS * PER);
	FO_CHECK(fo_hub_lost(hub) == 0);

	/* cleared wake: no more calls */
	fo_hub_set_wake(hub, NULL, NULL);
	fo_hub_publish(hub, "{}", 2);
	FO_CHECK(atomic_load(&wakes) == THREADS * PER);
	fo_hub_msg *m = fo_hub_take(hub);
	FO_CHECK(m && !m->next && m->len == 2 && memcmp(m->data, "{}", 2) == 0);
	FO_CHECK(fo_hub_take(hub) == NULL);

	/* a client queue: full at FO_HUB_Q_CAP, shares one message */
	static fo_hub_q q, q2;
	for (int i = 0; i < FO_HUB_Q_CAP; i++)
		FO_CHECK(fo_hub_q_push(&q, m) == 0);
	FO_CHECK(fo_hub_q_len(&q) == FO_HUB_Q_CAP);
	FO_CHECK(fo_hub_q_push(&q, m) == -1); /* the slow client: refused, not waited for */
	FO_CHECK(atomic_load(&m->refs) == FO_HUB_Q_CAP + 1);
	fo_hub_msg *snap = fo_hub_msg_new("{\"type\":\"snapshot\"}", 19);
	FO_CHECK(fo_hub_q_push_front(&q, snap) == -1); /* full: nothing changed */
	fo_hub_q_clear(&q);
	FO_CHECK(fo_hub_q_len(&q) == 0 && fo_hub_q_front(&q) == NULL);
	FO_CHECK(atomic_load(&m->refs) == 1);

	/* before the snapshot: messages it already holds are dropped, the
	 * snapshot goes first, newer ones follow in order */
	fo_hub_set_wake(hub, wake, NULL);
	for (int i = 0; i < 5; i++) {
		fo_hub_publish(hub, "{\"n\":1}", 7);
		fo_hub_msg *x = fo_hub_take(hub);
		FO_CHECK(fo_hub_q_push(&q2, x) == 0);
		fo_hub_msg_unref(x);
	}
	uint64_t third = q2.slot[(q2.head + 2) % FO_HUB_Q_CAP]->seq;
	fo_hub_q_drop_upto(&q2, third);
	FO_CHECK(fo_hub_q_len(&q2) == 2);
	FO_CHECK(fo_hub_q_push_front(&q2, snap) == 0);
	FO_CHECK(fo_hub_q_front(&q2) == snap && snap->seq == 0);
	fo_hub_q_pop(&q2);
	FO_CHECK(fo_hub_q_front(&q2)->seq == third + 1);
	/* a partly sent front message stays first */
	q2.sent = 3;
	fo_hub_msg *snap2 = fo_hub_msg_new("{}", 2);
	FO_CHECK(fo_hub_q_push_front(&q2, snap2) == -1);
	fo_hub_msg_unref(snap2);
	fo_hub_q_drop_upto(&q2, UINT64_MAX); /* not the one being sent */
	FO_CHECK(fo_hub_q_len(&q2) == 2);
	fo_hub_q_clear(&q2);
	FO_CHECK(q2.sent == 0);

	fo_hub_msg_unref(m);
	fo_hub_destroy(hub);
	return fo_test_done("test_hub");
}
