/* compaction, defrag, alarm, snapshot, endpoint health|status:
 * etcdctl 3.4's ctlv3/command/{compaction,defrag,alarm,snapshot,ep}_command.go. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "errors.h"
#include "../kv.h"
#include "storectl.h"

int ctl_cmd_compaction(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 2)
		ctl_die(CTL_EXIT_BADARGS, "compaction command needs 1 argument");
	char *end;
	long long rev = strtoll(a->pos[1], &end, 10);
	if (end == a->pos[1] || *end)
		ctl_die(CTL_EXIT_ERROR, "strconv.ParseInt: parsing \"%s\": invalid syntax", a->pos[1]);
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_compact(c->cli, rev, ctl_flag_bool(c, "physical"), NULL, &err);
	if (rc)
		ctl_die_err(rc, &err);
	printf("compacted revision %lld\n", rev);
	return 0;
}

int ctl_cmd_defrag(struct ctl *c)
{
	int failed = 0;
	for (size_t i = 0; i < c->n_endpoints; i++) {
		struct kc_etcd_error err = { 0 };
		int rc = kc_etcd_defragment(c->cli, (int)i, &err);
		if (rc) {
			fprintf(stderr, "Failed to defragment etcd member[%s] (%s)\n", c->endpoints[i],
			        err.message[0] ? err.message : kc_strerror(rc));
			failed = 1;
		} else {
			printf("Finished defragmenting etcd member[%s]\n", c->endpoints[i]);
		}
	}
	return failed ? CTL_EXIT_ERROR : 0;
}

int ctl_cmd_alarm(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 2 || (strcmp(a->pos[1], "list") != 0 && strcmp(a->pos[1], "disarm") != 0))
		ctl_die(CTL_EXIT_BADARGS, "alarm needs a subcommand: list or disarm");
	struct kc_etcd_alarm *al;
	size_t n;
	struct kc_etcd_error err = { 0 };
	int rc = strcmp(a->pos[1], "list") == 0 ? kc_etcd_alarm_list(c->cli, &al, &n, &err)
	                                         : kc_etcd_alarm_disarm(c->cli, &al, &n, &err);
	if (rc)
		ctl_die_err(rc, &err);
	if (c->out == CTL_OUT_JSON) {
		printf("{\"alarms\":[");
		for (size_t i = 0; i < n; i++)
			printf("%s{\"memberID\":%" PRIu64 ",\"alarm\":%d}", i ? "," : "", al[i].member_id,
			       strcmp(al[i].alarm, "NOSPACE") == 0 ? 1 : strcmp(al[i].alarm, "CORRUPT") == 0 ? 2 : 0);
		printf("]}\n");
	} else {
		/* fmt.Printf("%+v\n", alarmMember): the proto's compact text form */
		for (size_t i = 0; i < n; i++)
			printf("memberID:%" PRIu64 " alarm:%s \n", al[i].member_id, al[i].alarm);
	}
	free(al);
	return 0;
}

static int snapshot_save(struct ctl *c, const char *path)
{
	if (c->n_endpoints != 1)
		ctl_die(CTL_EXIT_BADARGS, "snapshot must be requested to one selected node, not multiple [%s]", c->endpoints[0]);
	char part[4096];
	snprintf(part, sizeof(part), "%s.part", path);
	int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		ctl_die(CTL_EXIT_ERROR, "could not open %s (%s)", part, strerror(errno));
	uint64_t bytes = 0;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_snapshot(c->cli, fd, &bytes, &err);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc) {
		unlink(part);
		ctl_die_err(rc, &err);
	}
	if (rename(part, path) != 0)
		ctl_die(CTL_EXIT_ERROR, "could not rename %s -> %s (%s)", part, path, strerror(errno));
	printf("Snapshot saved at %s\n", path);
	return 0;
}

/* The snapshot stream ends with the SHA-256 of what precedes it, as etcd's does (etcdctl
 * restore verifies it: "snapshot missing hash but --skip-hash-check=false"). When the
 * file carries a matching trailer, *plain_out names a temporary copy without it. */
static int strip_sha256(const char *path, bool skip_check, char **plain_out)
{
	*plain_out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size <= SHA256_DIGEST_LENGTH) {
		close(fd);
		return 0;
	}
	off_t body = st.st_size - SHA256_DIGEST_LENGTH;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	char tmpl[] = "/tmp/kube-storectl-restore.XXXXXX";
	int out = mkstemp(tmpl);
	if (out < 0) {
		int e = -errno;
		EVP_MD_CTX_free(md);
		close(fd);
		return e;
	}
	static unsigned char buf[1 << 16];
	off_t left = body;
	int rc = 0;
	while (left > 0 && !rc) {
		ssize_t n = read(fd, buf, left < (off_t)sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		if (write(out, buf, (size_t)n) != n)
			rc = -EIO;
		left -= n;
	}
	unsigned char want[SHA256_DIGEST_LENGTH], got[SHA256_DIGEST_LENGTH];
	unsigned int gl = 0;
	EVP_DigestFinal_ex(md, got, &gl);
	EVP_MD_CTX_free(md);
	if (!rc && read(fd, want, sizeof(want)) != (ssize_t)sizeof(want))
		rc = -EIO;
	close(fd);
	close(out);
	if (rc || (memcmp(want, got, sizeof(got)) != 0 && !skip_check)) {
		/* no (matching) trailer: restore the file as it is; the loader validates it */
		unlink(tmpl);
		return rc;
	}
	*plain_out = strdup(tmpl);
	if (!*plain_out) {
		unlink(tmpl);
		return -ENOMEM;
	}
	return 0;
}

int ctl_cmd_snapshot(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 3)
		ctl_die(CTL_EXIT_BADARGS, "snapshot needs a subcommand and a filename: save <file> | restore <file> | status <file>");
	if (strcmp(a->pos[1], "save") == 0)
		return snapshot_save(c, a->pos[2]);
	if (strcmp(a->pos[1], "restore") == 0) {
		/* The snapshot must be kube-store's own format (what its /v3/maintenance/snapshot
		 * streams); an etcd (bbolt) snapshot is refused by kv_snapshot_restore's
		 * validation. etcdctl's default data dir is "<name>.etcd". */
		const char *dir = ctl_flag(c, "data-dir");
		char defdir[512];
		if (!dir) {
			const char *name = ctl_flag(c, "name") ? ctl_flag(c, "name") : "default";
			snprintf(defdir, sizeof(defdir), "%s.etcd", name);
			dir = defdir;
		}
		char *plain = NULL;
		int rc = strip_sha256(a->pos[2], ctl_flag_bool(c, "skip-hash-check"), &plain);
		if (rc)
			ctl_die(CTL_EXIT_ERROR, "cannot read %s: %s", a->pos[2], strerror(-rc));
		rc = kv_snapshot_restore(plain ? plain : a->pos[2], dir);
		if (plain) {
			unlink(plain);
			free(plain);
		}
		if (rc == -EEXIST)
			ctl_die(CTL_EXIT_ERROR, "data-dir \"%s\" exists", dir);
		if (rc)
			ctl_die(CTL_EXIT_ERROR, "cannot restore %s: %s", a->pos[2], kv_errmsg(rc));
		fprintf(stderr, "restored snapshot %s into %s\n", a->pos[2], dir);
		return 0;
	}
	ctl_die(CTL_EXIT_BADARGS, "unknown command \"%s\" for \"kube-storectl snapshot\"", a->pos[1]);
}

/* The endpoints to probe: the given ones, or with --cluster every member's client URLs. */
static size_t endpoint_targets(struct ctl *c, char ***out)
{
	if (!ctl_flag_bool(c, "cluster")) {
		char **v = calloc(c->n_endpoints, sizeof(char *));
		for (size_t i = 0; v && i < c->n_endpoints; i++)
			v[i] = strdup(c->endpoints[i]);
		*out = v;
		return v ? c->n_endpoints : 0;
	}
	struct kc_etcd_member_list ml;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_member_list(c->cli, &ml, &err);
	if (rc)
		ctl_die_err(rc, &err);
	char **v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < ml.n_members; i++)
		for (size_t k = 0; k < ml.members[i].n_client_urls; k++) {
			char **nv = realloc(v, (n + 1) * sizeof(char *));
			if (!nv)
				ctl_die(CTL_EXIT_ERROR, "out of memory");
			v = nv;
			v[n++] = strdup(ml.members[i].client_urls[k]);
		}
	kc_etcd_member_list_free(&ml);
	*out = v;
	return n;
}

kc_etcd *ctl_endpoint_client(struct ctl *c, const char *ep)
{
	char url[1024];
	if (strncmp(ep, "http://", 7) == 0 || strncmp(ep, "https://", 8) == 0)
		snprintf(url, sizeof(url), "%s", ep);
	else
		snprintf(url, sizeof(url), "%s://%s", c->cfg.cacert || c->cfg.cert ? "https" : "http", ep);
	const char *eps[1] = { url };
	struct kc_etcd_config cfg = c->cfg;
	cfg.endpoints = eps;
	cfg.n_endpoints = 1;
	kc_etcd *cli;
	if (kc_etcd_new(&cfg, &cli) != 0)
		ctl_die(CTL_EXIT_BADARGS, "invalid endpoint %s", ep);
	return cli;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int endpoint_health(struct ctl *c)
{
	char **eps;
	size_t n = endpoint_targets(c, &eps);
	bool all_ok = true;
	struct ctl_table t;
	static const char *const hdr[] = { "ENDPOINT", "HEALTH", "TOOK", "ERROR" };
	if (c->out == CTL_OUT_TABLE)
		ctl_table_init(&t, 4, hdr);
	if (c->out == CTL_OUT_JSON)
		putchar('[');
	for (size_t i = 0; i < n; i++) {
		kc_etcd *cli = ctl_endpoint_client(c, eps[i]);
		/* etcdctl 3.4: healthy when a linearizable Get("health") succeeds and no alarm
		 * is active. */
		int64_t t0 = mono_ns();
		struct kc_etcd_range_req rq = { .key = "health", .key_len = 6 };
		struct kc_etcd_range_resp rr;
		struct kc_etcd_error err = { 0 };
		int rc = kc_etcd_range(cli, &rq, &rr, &err);
		int64_t took = mono_ns() - t0;
		char errs[600] = "";
		if (rc == 0) {
			kc_etcd_range_resp_free(&rr);
			struct kc_etcd_alarm *al;
			size_t na;
			if (kc_etcd_alarm_list(cli, &al, &na, NULL) != 0) {
				snprintf(errs, sizeof(errs), "Unable to fetch the alarm list");
			} else if (na) {
				snprintf(errs, sizeof(errs), "Active Alarm(s): ");
				for (size_t k = 0; k < na; k++)
					strncat(errs, strcmp(al[k].alarm, "NOSPACE") == 0 ? "NOSPACE "
					               : strcmp(al[k].alarm, "CORRUPT") == 0 ? "CORRUPT " : "UNKNOWN ",
					        sizeof(errs) - strlen(errs) - 1);
			}
			if (rc == 0 && na == 0)
				free(al);
			else if (rc == 0)
				free(al);
		} else {
			snprintf(errs, sizeof(errs), "%s", err.message[0] ? err.message : kc_strerror(rc));
		}
		bool ok = errs[0] == 0;
		all_ok = all_ok && ok;
		char tk[64];
		ctl_go_duration(took, tk, sizeof(tk));
		if (c->out == CTL_OUT_TABLE) {
			const char *row[] = { eps[i], ok ? "true" : "false", tk, errs };
			ctl_table_row(&t, row);
		} else if (c->out == CTL_OUT_JSON) {
			printf("%s{\"endpoint\":\"%s\",\"health\":%s,\"took\":\"%s\"", i ? "," : "", eps[i],
			       ok ? "true" : "false", tk);
			if (!ok)
				printf(",\"error\":\"%s\"", errs);
			putchar('}');
		} else if (ok) {
			fprintf(stderr, "%s is healthy: successfully committed proposal: took = %s\n", eps[i], tk);
		} else {
			fprintf(stderr, "%s is unhealthy: failed to commit proposal: %s\n", eps[i], errs);
		}
		kc_etcd_free(cli);
		free(eps[i]);
	}
	free(eps);
	if (c->out == CTL_OUT_JSON)
		printf("]\n");
	if (c->out == CTL_OUT_TABLE)
		ctl_table_print(stdout, &t);
	if (!all_ok)
		ctl_die(CTL_EXIT_ERROR, "unhealthy cluster");
	return 0;
}

static int endpoint_status(struct ctl *c)
{
	char **eps;
	size_t n = endpoint_targets(c, &eps);
	bool failed = false, any = false;
	struct ctl_table t;
	static const char *const hdr[] = { "ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER",
	                                   "RAFT TERM", "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS" };
	if (c->out == CTL_OUT_TABLE)
		ctl_table_init(&t, 10, hdr);
	for (size_t i = 0; i < n; i++) {
		kc_etcd *cli = ctl_endpoint_client(c, eps[i]);
		struct kc_etcd_status s;
		struct kc_etcd_error err = { 0 };
		int rc = kc_etcd_status_get(cli, 0, &s, &err);
		kc_etcd_free(cli);
		if (rc) {
			fprintf(stderr, "Failed to get the status of endpoint %s (%s)\n", eps[i],
			        err.message[0] ? err.message : kc_strerror(rc));
			failed = true;
			continue;
		}
		char id[32], db[32], term[32], idx[32], app[32], errs[1024];
		snprintf(id, sizeof(id), "%" PRIx64, s.header.member_id);
		ctl_human_bytes((uint64_t)s.db_size, db, sizeof(db));
		snprintf(term, sizeof(term), "%" PRIu64, s.raft_term);
		snprintf(idx, sizeof(idx), "%" PRIu64, s.raft_index);
		snprintf(app, sizeof(app), "%" PRIu64, s.raft_applied_index);
		ctl_join(errs, sizeof(errs), s.errors, s.n_errors, ", ");
		const char *leader = s.header.member_id == s.leader ? "true" : "false";
		const char *learner = s.is_learner ? "true" : "false";
		if (c->out == CTL_OUT_TABLE) {
			const char *row[] = { eps[i], id, s.version, db, leader, learner, term, idx, app, errs };
			ctl_table_row(&t, row);
		} else if (c->out == CTL_OUT_JSON) {
			printf("%s{\"Endpoint\":\"%s\",\"Status\":{\"header\":", any ? "," : "[", eps[i]);
			ctl_json_header(stdout, &s.header);
			if (s.version[0])
				printf(",\"version\":\"%s\"", s.version);
			if (s.db_size)
				printf(",\"dbSize\":%" PRId64, s.db_size);
			if (s.leader)
				printf(",\"leader\":%" PRIu64, s.leader);
			if (s.raft_index)
				printf(",\"raftIndex\":%" PRIu64, s.raft_index);
			if (s.raft_term)
				printf(",\"raftTerm\":%" PRIu64, s.raft_term);
			if (s.raft_applied_index)
				printf(",\"raftAppliedIndex\":%" PRIu64, s.raft_applied_index);
			if (s.n_errors) {
				fputs(",\"errors\":", stdout);
				ctl_json_strs(stdout, s.errors, s.n_errors);
			}
			if (s.db_size_in_use)
				printf(",\"dbSizeInUse\":%" PRId64, s.db_size_in_use);
			if (s.is_learner)
				fputs(",\"isLearner\":true", stdout);
			fputs("}}", stdout);
		} else {
			printf("%s, %s, %s, %s, %s, %s, %s, %s, %s, %s\n", eps[i], id, s.version, db, leader, learner, term,
			       idx, app, errs);
		}
		any = true;
		kc_etcd_status_free(&s);
	}
	for (size_t i = 0; i < n; i++)
		free(eps[i]);
	free(eps);
	if (c->out == CTL_OUT_JSON)
		printf(any ? "]\n" : "[]\n");
	if (c->out == CTL_OUT_TABLE)
		ctl_table_print(stdout, &t);
	return failed ? CTL_EXIT_ERROR : 0;
}

int ctl_cmd_endpoint(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos == 2 && strcmp(a->pos[1], "health") == 0)
		return endpoint_health(c);
	if (a->n_pos == 2 && strcmp(a->pos[1], "status") == 0)
		return endpoint_status(c);
	ctl_die(CTL_EXIT_BADARGS, "kube-storectl supports \"endpoint health\" and \"endpoint status\"");
}
