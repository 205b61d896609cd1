/* Event creates over the poster, the rest over kc_client (event_sink.h).
 *
 * Why: with every Scheduled event written (upstream's events/v1 broadcaster writes each
 * in its own goroutine), an Event POST per bound pod through libcurl cost the scheduler
 * about as much CPU as the binding did before the poster. The request and the answer
 * are the same as kc_client's: the same headers (the poster's), the Event as JSON, the
 * fields of the server's copy the correlator reads (event_answer.h), failures turned into
 * the same codes. */
#include "event_sink.h"

#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct poster_sink {
	kc_event_sink base;
	kc_event_sink *client_sink; /* patches, and creates the poster could not send */
	sched_poster *poster;
};

static int ps_create(kc_event_sink *s, const cJSON *event, cJSON **out)
{
	struct poster_sink *ps = (struct poster_sink *)s;
	if (out)
		*out = NULL;
	if (!ps->poster)
		return ps->client_sink->create(ps->client_sink, event, out);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(event, "metadata");
	const cJSON *nsj = cJSON_GetObjectItemCaseSensitive(md, "namespace");
	const char *ns = cJSON_IsString(nsj) && nsj->valuestring[0] ? nsj->valuestring : "default";
	kc_ref ref = { .api_version = "v1", .resource = "events", .ns = ns };
	char path[1024];
	if (kc_client_path(path, sizeof(path), &ref) < 0)
		return ps->client_sink->create(ps->client_sink, event, out);
	char err[512];
	int rc = sched_poster_post_json(ps->poster, path, event, out, err, sizeof(err));
	if (rc == 1) /* nothing was sent: the client's way */
		return ps->client_sink->create(ps->client_sink, event, out);
	return rc; /* transport failures after sending are retried by the recorder */
}

static int ps_patch(kc_event_sink *s, const char *ns, const char *name, const cJSON *patch,
		    cJSON **out)
{
	struct poster_sink *ps = (struct poster_sink *)s;
	return ps->client_sink->patch(ps->client_sink, ns, name, patch, out);
}

int sched_event_sink_new(kc_client *client, sched_poster *poster, kc_event_sink **out)
{
	if (!client || !out)
		return -EINVAL;
	*out = NULL;
	struct poster_sink *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	int rc = kc_event_sink_client_new(client, &ps->client_sink);
	if (rc < 0) {
		free(ps);
		return rc;
	}
	ps->base = (kc_event_sink){ ps_create, ps_patch };
	ps->poster = poster;
	*out = &ps->base;
	return 0;
}

void sched_event_sink_free(kc_event_sink *s)
{
	if (!s)
		return;
	struct poster_sink *ps = (struct poster_sink *)s;
	kc_event_sink_client_free(ps->client_sink);
	free(ps);
}
