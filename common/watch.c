/* Incremental decoder of newline-delimited JSON watch events (see watch.h).
 *
 * Mirrors client-go's watch path: the json framer splits the body into objects, and
 * watch.Decoder turns each {"type","object"} envelope into an event; an undecodable frame
 * ends the watch. We frame on '\n' (the apiserver writes exactly one event per line). */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "errors.h"
#include "json.h"
#include "watch.h"

static const char *const type_names[] = {
	[KC_WATCH_ADDED] = "ADDED",
	[KC_WATCH_MODIFIED] = "MODIFIED",
	[KC_WATCH_DELETED] = "DELETED",
	[KC_WATCH_BOOKMARK] = "BOOKMARK",
	[KC_WATCH_ERROR] = "ERROR",
};

const char *kc_watch_type_name(enum kc_watch_type t)
{
	if ((unsigned)t < sizeof(type_names) / sizeof(type_names[0]))
		return type_names[t];
	return "UNKNOWN";
}

void kc_watch_decoder_init(kc_watch_decoder *d, size_t max_line)
{
	memset(d, 0, sizeof(*d));
	d->max_line = max_line ? max_line : KC_WATCH_DEFAULT_MAX_LINE;
}

void kc_watch_decoder_close(kc_watch_decoder *d)
{
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

int kc_watch_parse_event(const char *line, size_t len, kc_watch_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	/* kubec's JSON parser: Go's rules, int64-exact numbers, NUL bytes rejected. */
	cJSON *root = NULL;
	int rc = kc_json_parse(line, len, len ? len : 1, &root, NULL, 0);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 || !root)
		return KC_EPARSE;
	if (!cJSON_IsObject(root))
		goto bad;
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(type))
		goto bad;
	int t = -1;
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(type->valuestring, type_names[i]) == 0)
			t = (int)i;
	if (t < 0)
		goto bad;
	cJSON *obj = cJSON_DetachItemFromObjectCaseSensitive(root, "object");
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		goto bad;
	}
	cJSON_Delete(root);
	ev->type = (enum kc_watch_type)t;
	ev->object = obj;
	if (ev->type == KC_WATCH_ERROR) {
		/* The object is a metav1.Status; 410 Expired/Gone tells the reflector to
		 * relist, anything else is reported as is. */
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		const cJSON *reason = cJSON_GetObjectItemCaseSensitive(obj, "reason");
		int c = 0;
		if (cJSON_IsNumber(code) && code->valuedouble >= 100 && code->valuedouble < 600)
			c = (int)code->valuedouble;
		ev->err = kc_status_to_err(c, cJSON_IsString(reason) ? reason->valuestring : NULL);
		if (ev->err == 0)
			ev->err = KC_EHTTP;
	}
	return 0;
bad:
	cJSON_Delete(root);
	return KC_EPARSE;
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* Decode one line (without '\n'); returns 0 or the callback's / decoder's code. */
static int deliver_line(kc_watch_decoder *d, const char *line, size_t n, kc_watch_fn cb,
			void *arg)
{
	if (n > 0 && line[n - 1] == '\r')
		n--;
	if (n > d->max_line)
		return d->err = KC_ETOOLARGE;
	if (blank(line, n))
		return 0;
	kc_watch_event ev;
	int rc = kc_watch_parse_event(line, n, &ev);
	if (rc < 0)
		return d->err = rc;
	d->events++;
	rc = cb ? cb(&ev, arg) : 0;
	cJSON_Delete(ev.object);
	return rc;
}

static int reserve(kc_watch_decoder *d, size_t need)
{
	if (need <= d->cap)
		return 0;
	size_t cap = d->cap ? d->cap : 4096;
	while (cap < need) {
		if (cap > ((size_t)-1) / 2)
			return -ENOMEM;
		cap *= 2;
	}
	char *nb = realloc(d->buf, cap);
	if (!nb)
		return -ENOMEM;
	d->buf = nb;
	d->cap = cap;
	return 0;
}

/* Decode every complete line held in d->buf, keep the rest. */
static int drain(kc_watch_decoder *d, kc_watch_fn cb, void *arg)
{
	size_t pos = 0;
	int rc = 0;
	while (pos < d->len) {
		char *nl = memchr(d->buf + pos, '\n', d->len - pos);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (d->buf + pos));
		rc = deliver_line(d, d->buf + pos, n, cb, arg);
		pos += n + 1;
		if (rc != 0)
			break;
	}
	if (pos > 0) {
		memmove(d->buf, d->buf + pos, d->len - pos);
		d->len -= pos;
	}
	if (rc == 0 && d->len > d->max_line + 1) /* +1: a pending '\r' */
		rc = d->err = KC_ETOOLARGE;
	return rc;
}

int kc_watch_decoder_feed(kc_watch_decoder *d, const void *buf, size_t len, kc_watch_fn cb,
			  void *arg)
{
	if (d->err)
		return d->err;
	if (len == 0)
		return drain(d, cb, arg);
	if (d->len > ((size_t)-1) - len)
		return d->err = -ENOMEM;
	int rc = reserve(d, d->len + len);
	if (rc < 0)
		return d->err = rc;
	memcpy(d->buf + d->len, buf, len);
	d->len += len;
	return drain(d, cb, arg);
}

int kc_watch_decoder_finish(kc_watch_decoder *d, kc_watch_fn cb, void *arg)
{
	if (d->err)
		return d->err;
	int rc = drain(d, cb, arg);
	if (rc != 0 || d->len == 0)
		return rc;
	size_t n = d->len;
	d->len = 0;
	return deliver_line(d, d->buf, n, cb, arg);
}
