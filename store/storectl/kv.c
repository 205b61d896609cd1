/* get, put, del, watch: etcdctl 3.4's ctlv3/command/{get,put,del,watch}_command.go. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "storectl.h"

/* Sets key/range_end for --prefix / --from-key as clientv3's WithPrefix/WithFromKey. */
static void key_range(const char *key, const char *end_arg, bool prefix, bool from_key, const char **k,
                      size_t *klen, uint8_t *endbuf, const void **end, size_t *endlen)
{
	static const char zero[1] = { 0 };
	*k = key;
	*klen = strlen(key);
	*end = NULL;
	*endlen = 0;
	if ((prefix || from_key) && *klen == 0) {
		*k = zero;
		*klen = 1;
		endbuf[0] = 0;
		*end = endbuf;
		*endlen = 1;
		return;
	}
	if (prefix) {
		*endlen = kc_etcd_prefix_end(key, *klen, endbuf);
		*end = endbuf;
	} else if (from_key) {
		endbuf[0] = 0;
		*end = endbuf;
		*endlen = 1;
	} else if (end_arg) {
		*end = end_arg;
		*endlen = strlen(end_arg);
	}
}

void ctl_build_get(struct ctl *c, struct kc_etcd_range_req *reqp, uint8_t **endbufp)
{
	struct ctl_args *a = c->args;
	if (a->n_pos < 2 || a->n_pos > 3)
		ctl_die(CTL_EXIT_BADARGS, "get command needs one argument as key and an optional argument as range_end");
	bool prefix = ctl_flag_bool(c, "prefix"), from_key = ctl_flag_bool(c, "from-key");
	if (prefix && from_key)
		ctl_die(CTL_EXIT_BADARGS, "`--prefix` and `--from-key` cannot be set at the same time, choose one");
	if (a->n_pos == 3 && (prefix || from_key))
		ctl_die(CTL_EXIT_BADARGS, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set.");
	struct kc_etcd_range_req req = { 0 };
	uint8_t *endbuf = malloc(strlen(a->pos[1]) + 1);
	if (!endbuf)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	const char *k;
	key_range(a->pos[1], a->n_pos == 3 ? a->pos[2] : NULL, prefix, from_key, &k, &req.key_len, endbuf,
	          &req.range_end, &req.range_end_len);
	req.key = k;
	*endbufp = endbuf;
	req.revision = ctl_flag_int(c, "rev", 0);
	req.limit = ctl_flag_int(c, "limit", 0);
	req.keys_only = ctl_flag_bool(c, "keys-only");
	const char *cons = ctl_flag(c, "consistency");
	if (cons && strcmp(cons, "s") == 0)
		req.serializable = true;
	else if (cons && strcmp(cons, "l") != 0)
		ctl_die(CTL_EXIT_BADARGS, "unknown consistency flag %s", cons);
	const char *order = ctl_flag(c, "order"), *sortby = ctl_flag(c, "sort-by");
	if (order && *order) {
		if (strcmp(order, "ASCEND") == 0)
			req.sort_order = KC_ETCD_SORT_ASCEND;
		else if (strcmp(order, "DESCEND") == 0)
			req.sort_order = KC_ETCD_SORT_DESCEND;
		else
			ctl_die(CTL_EXIT_BADARGS, "bad sort order %s", order);
	}
	if (sortby && *sortby) {
		if (strcmp(sortby, "CREATE") == 0)
			req.sort_target = KC_ETCD_SORT_CREATE;
		else if (strcmp(sortby, "KEY") == 0)
			req.sort_target = KC_ETCD_SORT_KEY;
		else if (strcmp(sortby, "MODIFY") == 0)
			req.sort_target = KC_ETCD_SORT_MOD;
		else if (strcmp(sortby, "VALUE") == 0)
			req.sort_target = KC_ETCD_SORT_VALUE;
		else if (strcmp(sortby, "VERSION") == 0)
			req.sort_target = KC_ETCD_SORT_VERSION;
		else
			ctl_die(CTL_EXIT_BADARGS, "bad sort target %s", sortby);
		if (!req.sort_order)
			req.sort_order = KC_ETCD_SORT_ASCEND;
	}
	/* clientv3 drops an ASCEND-by-KEY sort: it is the natural order. */
	if (req.sort_order == KC_ETCD_SORT_ASCEND && req.sort_target == KC_ETCD_SORT_KEY)
		req.sort_order = KC_ETCD_SORT_NONE;
	*reqp = req;
}

int ctl_cmd_get(struct ctl *c)
{
	struct kc_etcd_range_req req;
	uint8_t *endbuf;
	ctl_build_get(c, &req, &endbuf);
	struct kc_etcd_range_resp resp;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_range(c->cli, &req, &resp, &err);
	free(endbuf);
	if (rc)
		ctl_die_err(rc, &err);
	ctl_print_get(c, &resp, ctl_flag_bool(c, "print-value-only"));
	kc_etcd_range_resp_free(&resp);
	return 0;
}

static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	while (b) {
		if (n == cap) {
			char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
		}
		ssize_t r = read(0, b + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return b;
}

void ctl_build_put(struct ctl *c, struct kc_etcd_put_req *reqp, char **stdin_out)
{
	struct ctl_args *a = c->args;
	struct kc_etcd_put_req req = { 0 };
	req.ignore_value = ctl_flag_bool(c, "ignore-value");
	req.ignore_lease = ctl_flag_bool(c, "ignore-lease");
	req.prev_kv = ctl_flag_bool(c, "prev-kv");
	char *stdin_val = NULL;
	if (a->n_pos < 2)
		ctl_die(CTL_EXIT_BADARGS, "put command needs 1 argument and input from stdin or 2 arguments");
	req.key = a->pos[1];
	req.key_len = strlen(a->pos[1]);
	if (a->n_pos >= 3) {
		if (req.ignore_value)
			ctl_die(CTL_EXIT_BADARGS, "put command needs only 1 argument when 'ignore-value' is set");
		req.value = a->pos[2];
		req.value_len = strlen(a->pos[2]);
	} else if (!req.ignore_value) {
		/* etcdctl: the value comes from stdin when not given (bufio ReadString('\n')
		 * would keep only a line; etcdctl reads the whole input). */
		size_t n;
		stdin_val = read_stdin(&n);
		if (!stdin_val)
			ctl_die(CTL_EXIT_ERROR, "out of memory");
		req.value = stdin_val;
		req.value_len = n;
	}
	const char *ls = ctl_flag(c, "lease");
	if (ls && strcmp(ls, "0") != 0) {
		if (ctl_parse_lease(ls, &req.lease) != 0)
			ctl_die(CTL_EXIT_BADARGS, "bad lease ID (strconv.ParseInt: parsing \"%s\": invalid syntax), expecting ID in Hex", ls);
	}
	*reqp = req;
	*stdin_out = stdin_val;
}

int ctl_cmd_put(struct ctl *c)
{
	struct kc_etcd_put_req req;
	char *stdin_val;
	ctl_build_put(c, &req, &stdin_val);
	struct kc_etcd_put_resp resp;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_put(c->cli, &req, &resp, &err);
	free(stdin_val);
	if (rc)
		ctl_die_err(rc, &err);
	ctl_print_put(c, &resp);
	kc_etcd_put_resp_free(&resp);
	return 0;
}

void ctl_build_del(struct ctl *c, struct kc_etcd_delete_req *reqp, uint8_t **endbufp)
{
	struct ctl_args *a = c->args;
	if (a->n_pos < 2 || a->n_pos > 3)
		ctl_die(CTL_EXIT_BADARGS, "del command needs one argument as key and an optional argument as range_end");
	bool prefix = ctl_flag_bool(c, "prefix"), from_key = ctl_flag_bool(c, "from-key");
	if (prefix && from_key)
		ctl_die(CTL_EXIT_BADARGS, "`--prefix` and `--from-key` cannot be set at the same time, choose one");
	if (a->n_pos == 3 && (prefix || from_key))
		ctl_die(CTL_EXIT_BADARGS, "too many arguments, only accept one argument when `--prefix` or `--from-key` is set.");
	struct kc_etcd_delete_req req = { 0 };
	uint8_t *endbuf = malloc(strlen(a->pos[1]) + 1);
	if (!endbuf)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	const char *k;
	key_range(a->pos[1], a->n_pos == 3 ? a->pos[2] : NULL, prefix, from_key, &k, &req.key_len, endbuf,
	          &req.range_end, &req.range_end_len);
	req.key = k;
	req.prev_kv = ctl_flag_bool(c, "prev-kv");
	*reqp = req;
	*endbufp = endbuf;
}

int ctl_cmd_del(struct ctl *c)
{
	struct kc_etcd_delete_req req;
	uint8_t *endbuf;
	ctl_build_del(c, &req, &endbuf);
	struct kc_etcd_delete_resp resp;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_delete_range(c->cli, &req, &resp, &err);
	free(endbuf);
	if (rc)
		ctl_die_err(rc, &err);
	ctl_print_del(c, &resp);
	kc_etcd_delete_resp_free(&resp);
	return 0;
}

/* ---- watch ---- */

static atomic_int watch_stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&watch_stop, 1);
}

static void json_event(FILE *f, const struct kc_etcd_event *e)
{
	fputc('{', f);
	bool first = true;
	if (e->type == KC_ETCD_EVENT_DELETE) {
		fputs("\"type\":1", f);
		first = false;
	}
	fputs(first ? "\"kv\":" : ",\"kv\":", f);
	ctl_json_kv(f, &e->kv);
	if (e->has_prev_kv) {
		fputs(",\"prev_kv\":", f);
		ctl_json_kv(f, &e->prev_kv);
	}
	fputc('}', f);
}

static int watch_cb(void *arg, const struct kc_etcd_watch_resp *w)
{
	struct ctl *c = arg;
	if (w->created && !w->n_events && !w->canceled)
		return 0; /* clientv3 does not surface the created notification */
	if (c->out == CTL_OUT_JSON) {
		/* encoding/json of clientv3.WatchResponse */
		fputs("{\"Header\":", stdout);
		ctl_json_header(stdout, &w->header);
		fputs(",\"Events\":[", stdout);
		for (size_t i = 0; i < w->n_events; i++) {
			if (i)
				putchar(',');
			json_event(stdout, &w->events[i]);
		}
		printf("],\"CompactRevision\":%" PRId64 ",\"Canceled\":%s,\"Created\":%s}\n", w->compact_revision,
		       w->canceled ? "true" : "false", w->created ? "true" : "false");
	} else {
		for (size_t i = 0; i < w->n_events; i++) {
			const struct kc_etcd_event *e = &w->events[i];
			puts(e->type == KC_ETCD_EVENT_DELETE ? "DELETE" : "PUT");
			if (e->has_prev_kv)
				ctl_print_kv(c, &e->prev_kv, false);
			ctl_print_kv(c, &e->kv, false);
		}
	}
	fflush(stdout);
	return 0;
}

int ctl_cmd_watch(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (ctl_flag_bool(c, "interactive") || ctl_flag_bool(c, "i"))
		ctl_die(CTL_EXIT_BADARGS, "interactive watch is not supported by kube-storectl");
	if (a->n_pos < 2 || a->n_pos > 3)
		ctl_die(CTL_EXIT_BADARGS, "watch in non-interactive mode requires one or two arguments as key or prefix, with range end");
	bool prefix = ctl_flag_bool(c, "prefix");
	if (prefix && a->n_pos == 3)
		ctl_die(CTL_EXIT_BADARGS, "too many arguments, only accept one argument when `--prefix` is set.");
	struct kc_etcd_watch_req req = { 0 };
	uint8_t *endbuf = malloc(strlen(a->pos[1]) + 1);
	if (!endbuf)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	const char *k;
	key_range(a->pos[1], a->n_pos == 3 ? a->pos[2] : NULL, prefix, false, &k, &req.key_len, endbuf,
	          &req.range_end, &req.range_end_len);
	req.key = k;
	req.start_revision = ctl_flag_int(c, "rev", 0);
	req.prev_kv = ctl_flag_bool(c, "prev-kv");
	req.progress_notify = ctl_flag_bool(c, "progress-notify");
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_watch(c->cli, &req, watch_cb, c, &watch_stop, &err);
	free(endbuf);
	if (rc == 0)
		return 0;
	if (rc == KC_EGONE || (rc == KC_ECLOSED && strstr(err.message, "canceled"))) {
		/* etcdctl: "watch was canceled (<reason>)" then the error */
		printf("watch was canceled (%s)\n", rc == KC_EGONE ? err.message : "");
		ctl_die(CTL_EXIT_ERROR, "watch is canceled by the server");
	}
	ctl_die_err(rc, &err);
}
