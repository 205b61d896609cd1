/* The real sched_api: bindings, status patches and events through the apiserver. */
#ifndef SCHED_API_H
#define SCHED_API_H

#include "client.h"
#include "events.h"
#include "poster.h"
#include "scheduler.h"

typedef struct sched_client_api {
	sched_api base;
	kc_client *client;  /* borrowed */
	kc_recorder *rec;   /* borrowed; may be NULL (no events) */
	kc_clock_t *clock;  /* borrowed */
	/* borrowed; may be NULL: bindings then go through client (set it after init) */
	sched_poster *poster;
} sched_client_api;

void sched_client_api_init(sched_client_api *a, kc_client *client, kc_recorder *rec,
			   kc_clock_t *clock);

#endif
