/* lease grant|revoke|keep-alive|timetolive|list: etcdctl 3.4's lease_command.go.
 * Lease IDs are written and read in hex, as etcdctl does. */
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "storectl.h"

static int64_t lease_arg(struct ctl *c, const char *what)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 3)
		ctl_die(CTL_EXIT_BADARGS, "lease %s command needs 1 argument", what);
	int64_t id;
	if (ctl_parse_lease(a->pos[2], &id) != 0)
		ctl_die(CTL_EXIT_BADARGS, "bad lease ID arg (strconv.ParseInt: parsing \"%s\": invalid syntax), expecting ID in Hex", a->pos[2]);
	return id;
}

/* clientv3's lease responses embed *pb.ResponseHeader: its fields are flattened. */
static void json_flat_header(const struct kc_etcd_header *h)
{
	printf("{\"cluster_id\":%" PRIu64 ",\"member_id\":%" PRIu64 ",\"revision\":%" PRId64 ",\"raft_term\":%" PRIu64,
	       h->cluster_id, h->member_id, h->revision, h->raft_term);
}

static int lease_grant(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 3)
		ctl_die(CTL_EXIT_BADARGS, "lease grant command needs TTL argument");
	char *end;
	long long ttl = strtoll(a->pos[2], &end, 10);
	if (end == a->pos[2] || *end)
		ctl_die(CTL_EXIT_BADARGS, "bad TTL (strconv.ParseInt: parsing \"%s\": invalid syntax)", a->pos[2]);
	int64_t id, gttl;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_lease_grant(c->cli, ttl, 0, &id, &gttl, &err);
	if (rc)
		ctl_die(CTL_EXIT_ERROR, "failed to grant lease (%s)", err.message[0] ? err.message : kc_strerror(rc));
	if (c->out == CTL_OUT_JSON) {
		/* The grant call does not return the header to us; read it from a status-free
		 * range so the JSON carries the same fields as etcdctl's. */
		struct kc_etcd_range_req rq = { .key = "\0", .key_len = 1, .count_only = true, .serializable = true };
		struct kc_etcd_range_resp rr;
		struct kc_etcd_header h = { 0 };
		if (kc_etcd_range(c->cli, &rq, &rr, NULL) == 0) {
			h = rr.header;
			kc_etcd_range_resp_free(&rr);
		}
		json_flat_header(&h);
		printf(",\"ID\":%" PRId64 ",\"TTL\":%" PRId64 ",\"Error\":\"\"}\n", id, gttl);
		return 0;
	}
	printf("lease %016" PRIx64 " granted with TTL(%" PRId64 "s)\n", (uint64_t)id, gttl);
	return 0;
}

static int lease_revoke(struct ctl *c)
{
	int64_t id = lease_arg(c, "revoke");
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_lease_revoke(c->cli, id, &err);
	if (rc)
		ctl_die(CTL_EXIT_ERROR, "failed to revoke lease (%s)", err.message[0] ? err.message : kc_strerror(rc));
	printf("lease %016" PRIx64 " revoked\n", (uint64_t)id);
	return 0;
}

static int lease_timetolive(struct ctl *c)
{
	int64_t id = lease_arg(c, "timetolive");
	bool keys = ctl_flag_bool(c, "keys");
	struct kc_etcd_lease_ttl t;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_lease_timetolive(c->cli, id, keys, &t, &err);
	if (rc)
		ctl_die_err(rc, &err);
	if (c->out == CTL_OUT_JSON) {
		json_flat_header(&t.header);
		printf(",\"id\":%" PRId64 ",\"ttl\":%" PRId64 ",\"granted-ttl\":%" PRId64 ",\"keys\":", t.id, t.ttl,
		       t.granted_ttl);
		if (!t.n_keys) {
			printf("null");
		} else {
			putchar('[');
			for (size_t i = 0; i < t.n_keys; i++) {
				char *s = NULL;
				if (kc_etcd_b64_encode(t.keys[i].key, t.keys[i].key_len, &s) == 0)
					printf("%s\"%s\"", i ? "," : "", s);
				free(s);
			}
			putchar(']');
		}
		printf("}\n");
	} else if (t.granted_ttl == 0 && t.ttl == -1) {
		printf("lease %016" PRIx64 " already expired\n", (uint64_t)id);
	} else {
		printf("lease %016" PRIx64 " granted with TTL(%" PRId64 "s), remaining(%" PRId64 "s)", (uint64_t)id,
		       t.granted_ttl, t.ttl);
		if (keys) {
			printf(", attached keys([");
			for (size_t i = 0; i < t.n_keys; i++) {
				if (i)
					putchar(' ');
				fwrite(t.keys[i].key, 1, t.keys[i].key_len, stdout);
			}
			printf("])");
		}
		putchar('\n');
	}
	kc_etcd_lease_ttl_free(&t);
	return 0;
}

static int lease_list(struct ctl *c)
{
	int64_t *ids;
	size_t n;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_lease_list(c->cli, &ids, &n, &err);
	if (rc)
		ctl_die(CTL_EXIT_ERROR, "failed to list leases (%s)", err.message[0] ? err.message : kc_strerror(rc));
	if (c->out == CTL_OUT_JSON) {
		printf("{\"leases\":[");
		for (size_t i = 0; i < n; i++)
			printf("%s{\"ID\":%" PRId64 "}", i ? "," : "", ids[i]);
		printf("]}\n");
	} else {
		printf("found %zu leases\n", n);
		for (size_t i = 0; i < n; i++)
			printf("%016" PRIx64 "\n", (uint64_t)ids[i]);
	}
	free(ids);
	return 0;
}

static volatile sig_atomic_t ka_stop;

static void ka_signal(int sig)
{
	(void)sig;
	ka_stop = 1;
}

static int lease_keepalive(struct ctl *c)
{
	int64_t id = lease_arg(c, "keep-alive");
	bool once = ctl_flag_bool(c, "once");
	struct sigaction sa = { .sa_handler = ka_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!ka_stop) {
		int64_t ttl;
		struct kc_etcd_error err = { 0 };
		int rc = kc_etcd_lease_keepalive_once(c->cli, id, &ttl, &err);
		if (rc == KC_ENOTFOUND && !once)
			break;
		if (rc) /* etcdctl: ExitWithError(ExitBadConnection, err) */
			ctl_die(2, "%s", err.message[0] ? err.message : kc_strerror(rc));
		printf("lease %016" PRIx64 " keepalived with TTL(%" PRId64 ")\n", (uint64_t)id, ttl);
		fflush(stdout);
		if (once)
			return 0;
		/* clientv3 renews every TTL/3 (at least every 500ms). */
		int64_t ms = ttl * 1000 / 3;
		if (ms < 500)
			ms = 500;
		for (int64_t slept = 0; slept < ms && !ka_stop; slept += 100) {
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (!ka_stop)
		printf("lease %016" PRIx64 " expired or revoked.\n", (uint64_t)id);
	return 0;
}

int ctl_cmd_lease(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos < 2)
		ctl_die(CTL_EXIT_BADARGS, "lease needs a subcommand: grant, revoke, keep-alive, timetolive, list");
	const char *s = a->pos[1];
	if (strcmp(s, "grant") == 0)
		return lease_grant(c);
	if (strcmp(s, "revoke") == 0)
		return lease_revoke(c);
	if (strcmp(s, "timetolive") == 0)
		return lease_timetolive(c);
	if (strcmp(s, "list") == 0)
		return lease_list(c);
	if (strcmp(s, "keep-alive") == 0)
		return lease_keepalive(c);
	ctl_die(CTL_EXIT_BADARGS, "unknown command \"%s\" for \"kube-storectl lease\"", s);
}
