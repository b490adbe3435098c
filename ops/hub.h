/*
 * hub: broadcast messages from any thread to every WebSocket client.
 *
 * A message is one immutable JSON text, copied once into a reference-counted
 * buffer that every client's queue shares. Producers (the ingest thread after a COMMIT, the API
 * thread after an action, the fleet thread every 100 ms) call fo_hub_publish, which appends the
 * message to the hub's inbox under a mutex and calls the wake function (lws_cancel_service). The
 * network thread takes the whole inbox with fo_hub_take and gives each client a reference
 * (fo_hub_q_push).
 *
 * Each client has a bounded queue (fo_hub_q) owned by the network thread:
 * a client that falls FO_HUB_Q_CAP messages behind is not waited for; the
 * push fails and the caller drops that client. So a slow client costs
 * memory for at most FO_HUB_Q_CAP shared messages and never slows the
 * producers or the other clients.
 *
 * Every message has a sequence number, increasing in publish order, and
 * its publish time (fo_time_mono_ns) for the broadcast-latency histogram.
 * fo_hub_seq tells a snapshot which messages it already includes: the
 * producers commit to PostgreSQL before they publish, so a message
 * published before a snapshot query started is already in the snapshot.
 */
#ifndef FO_HUB_H
#define FO_HUB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define FO_HUB_Q_CAP 1024

typedef struct fo_hub_msg {
	struct fo_hub_msg *next; /* inbox link; hub only */
	atomic_uint refs;
	uint64_t seq;
	int64_t published_ns; /* fo_time_mono_ns at publish */
	size_t len;
	unsigned char data[]; /* len bytes of JSON */
} fo_hub_msg;

typedef struct fo_hub fo_hub;

/* A hub whose publishers call wake(arg) after each publish (may be NULL).
 * Returns NULL when out of memory. Freed by fo_hub_destroy (messages still
 * in the inbox are released). Main thread. */
fo_hub *fo_hub_new(void (*wake)(void *arg), void *arg);
void fo_hub_destroy(fo_hub *hub);

/* Sets (or, with NULL, clears) the wake function; once it returns, the
 * previous one is not running and will not be called. Any thread. */
void fo_hub_set_wake(fo_hub *hub, void (*wake)(void *arg), void *arg);

/* Copies json into a new message and queues it for every client. Returns
 * 0, or -1 when out of memory (the message is lost and counted). Any
 * thread; takes the hub's mutex briefly. */
int fo_hub_publish(fo_hub *hub, const char *json, size_t len);

/* The sequence number of the last message published. Any thread. */
uint64_t fo_hub_seq(const fo_hub *hub);

/* Takes every queued message, oldest first, as a list linked by next; the
 * caller holds one reference to each (fo_hub_msg_unref). Network thread. */
fo_hub_msg *fo_hub_take(fo_hub *hub);

/* Messages published, and lost to allocation failures. Any thread. */
uint64_t fo_hub_published(const fo_hub *hub);
uint64_t fo_hub_lost(const fo_hub *hub);

/* One more reference; and one less, freeing the message at zero. Any
 * thread. */
void fo_hub_msg_ref(fo_hub_msg *m);
void fo_hub_msg_unref(fo_hub_msg *m);

/* A client's bounded queue of message references. Owned by one thread
 * (the network thread). */
typedef struct fo_hub_q {
	fo_hub_msg *slot[FO_HUB_Q_CAP];
	uint32_t head, tail; /* free-running; tail - head = queued */
	size_t sent;         /* bytes of the front message already sent */
} fo_hub_q;

static inline uint32_t fo_hub_q_len(const fo_hub_q *q)
{
	return q->tail - q->head;
}

/* Adds a reference to m at the back. Returns 0, or -1 if the queue is full
 * (nothing added: the client is too slow). */
int fo_hub_q_push(fo_hub_q *q, fo_hub_msg *m);

/* Puts m (the caller's reference moves to the queue) before every queued
 * message, e.g. a snapshot that must go first. Returns 0, or -1 if the
 * queue is full or the front message is partly sent (nothing changed). */
int fo_hub_q_push_front(fo_hub_q *q, fo_hub_msg *m);

/* A message that no hub published (seq 0): a copy of json with one
 * reference, e.g. a client's snapshot. NULL when out of memory. Any
 * thread. */
fo_hub_msg *fo_hub_msg_new(const char *json, size_t len);

/* The front message, or NULL. */
static inline fo_hub_msg *fo_hub_q_front(const fo_hub_q *q)
{
	return q->head == q->tail ? NULL : q->slot[q->head % FO_HUB_Q_CAP];
}

/* Drops the front message's reference. */
void fo_hub_q_pop(fo_hub_q *q);

/* Drops every message whose seq <= seq (already in the client's snapshot). */
void fo_hub_q_drop_upto(fo_hub_q *q, uint64_t seq);

/* Drops every reference. */
void fo_hub_q_clear(fo_hub_q *q);

#endif
