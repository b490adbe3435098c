/*
 * hub: see hub.h. The inbox is a mutex-protected singly linked list with a
 * tail pointer; the lock is held for a few pointer stores and the wake call
 * (a write to the event loop's pipe) per publish, and one swap per take,
 * never while copying. Waking under the lock lets fo_hub_set_wake(NULL)
 * guarantee that no wake call is in flight once it returns.
 */
#include "hub.h"

#include "timefmt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct fo_hub {
	pthread_mutex_t mu;
	fo_hub_msg *head, *tail;             /* under mu */
	uint64_t seq;                        /* under mu; last assigned */
	atomic_uint_fast64_t last_seq, lost; /* last_seq: also how many were published */
	void (*wake)(void *arg);
	void *wake_arg;
};

fo_hub *fo_hub_new(void (*wake)(void *arg), void *arg)
{
	fo_hub *hub = calloc(1, sizeof(*hub));
	if (!hub)
		return NULL;
	pthread_mutex_init(&hub->mu, NULL);
	hub->wake = wake;
	hub->wake_arg = arg;
	return hub;
}

void fo_hub_set_wake(fo_hub *hub, void (*wake)(void *arg), void *arg)
{
	pthread_mutex_lock(&hub->mu);
	hub->wake = wake;
	hub->wake_arg = arg;
	pthread_mutex_unlock(&hub->mu);
}

void fo_hub_destroy(fo_hub *hub)
{
	if (!hub)
		return;
	for (fo_hub_msg *m = hub->head, *n; m; m = n) {
		n = m->next;
		fo_hub_msg_unref(m);
	}
	pthread_mutex_destroy(&hub->mu);
	free(hub);
}

fo_hub_msg *fo_hub_msg_new(const char *json, size_t len)
{
	fo_hub_msg *m = malloc(sizeof(*m) + len);
	if (!m)
		return NULL;
	m->next = NULL;
	atomic_init(&m->refs, 1);
	m->seq = 0;
	m->published_ns = fo_time_mono_ns();
	m->len = len;
	memcpy(m->data, json, len);
	return m;
}

int fo_hub_publish(fo_hub *hub, const char *json, size_t len)
{
	fo_hub_msg *m = fo_hub_msg_new(json, len);
	if (!m) {
		atomic_fetch_add_explicit(&hub->lost, 1, memory_order_relaxed);
		return -1;
	}
	pthread_mutex_lock(&hub->mu);
	m->seq = ++hub->seq;
	m->published_ns = fo_time_mono_ns(); /* under mu: publish times follow seq */
	if (hub->tail)
		hub->tail->next = m;
	else
		hub->head = m;
	hub->tail = m;
	atomic_store_explicit(&hub->last_seq, m->seq, memory_order_release);
	if (hub->wake)
		hub->wake(hub->wake_arg);
	pthread_mutex_unlock(&hub->mu);
	return 0;
}

uint64_t fo_hub_seq(const fo_hub *hub)
{
	/* acquire: pairs with the release in fo_hub_publish */
	return atomic_load_explicit(&hub->last_seq, memory_order_acquire);
}

fo_hub_msg *fo_hub_take(fo_hub *hub)
{
	pthread_mutex_lock(&hub->mu);
	fo_hub_msg *m = hub->head;
	hub->head = hub->tail = NULL;
	pthread_mutex_unlock(&hub->mu);
	return m;
}

uint64_t fo_hub_published(const fo_hub *hub)
{
	return fo_hub_seq(hub); /* sequence numbers count the published messages */
}

uint64_t fo_hub_lost(const fo_hub *hub)
{
	return atomic_load_explicit(&hub->lost, memory_order_relaxed);
}

void fo_hub_msg_ref(fo_hub_msg *m)
{
	atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void fo_hub_msg_unref(fo_hub_msg *m)
{
	/* acq_rel: the last owner sees every other owner's use before freeing */
	if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
		free(m);
}

int fo_hub_q_push(fo_hub_q *q, fo_hub_msg *m)
{
	if (fo_hub_q_len(q) == FO_HUB_Q_CAP)
		return -1;
	fo_hub_msg_ref(m);
	q->slot[q->tail++ % FO_HUB_Q_CAP] = m;
	return 0;
}

int fo_hub_q_push_front(fo_hub_q *q, fo_hub_msg *m)
{
	if (fo_hub_q_len(q) == FO_HUB_Q_CAP || q->sent != 0)
		return -1;
	q->slot[--q->head % FO_HUB_Q_CAP] = m;
	return 0;
}

void fo_hub_q_pop(fo_hub_q *q)
{
	if (q->head == q->tail)
		return;
	fo_hub_msg_unref(q->slot[q->head++ % FO_HUB_Q_CAP]);
	q->sent = 0;
}

void fo_hub_q_drop_upto(fo_hub_q *q, uint64_t seq)
{
	fo_hub_msg *m;
	while ((m = fo_hub_q_front(q)) && m->seq <= seq && q->sent == 0)
		fo_hub_q_pop(q);
}

void fo_hub_q_clear(fo_hub_q *q)
{
	while (q->head != q->tail)
		fo_hub_q_pop(q);
	q->sent = 0;
}
