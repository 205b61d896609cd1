/* The scheduler's event sink (events.h's kc_event_sink): Event creates, one per bound
 * pod, go over the poster's kept-alive connections (poster.h) like the bindings; the
 * rare patches (a repeated event of one object) and any create the poster could not
 * send go through the API client's sink. Ownership: client and poster are borrowed and
 * must outlive the sink. */
#ifndef SCHED_EVENT_SINK_H
#define SCHED_EVENT_SINK_H

#include "client.h"
#include "events.h"
#include "poster.h"

/* 0 or -EINVAL / -ENOMEM. poster may be NULL: everything then goes through client. */
int sched_event_sink_new(kc_client *client, sched_poster *poster, kc_event_sink **out);
void sched_event_sink_free(kc_event_sink *s);

#endif
