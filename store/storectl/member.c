/* member list|add|remove|update|promote and move-leader: etcdctl 3.4's
 * ctlv3/command/{member,move_leader}_command.go and the simple/json printers' texts
 * ("Member %16x added to cluster %16x", the ETCD_* lines for the new member, ...).
 *
 * The membership calls go through the etcd v3 JSON gateway (/v3/cluster/member/{add,remove,...},
 * /v3/maintenance/transfer-leadership) with kc_etcd_post_raw; the answers are decoded here. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "storectl.h"

/* ---- JSON gateway plumbing ---- */

/* uint64 fields come as strings from the gateway (proto3 JSON), numbers from some servers. */
static uint64_t j_u64(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (cJSON_IsString(v))
		return strtoull(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (uint64_t)v->valuedouble;
	return 0;
}

static void j_header(const cJSON *resp, struct kc_etcd_header *h)
{
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(resp, "header");
	memset(h, 0, sizeof(*h));
	h->cluster_id = j_u64(o, "cluster_id");
	h->member_id = j_u64(o, "member_id");
	h->revision = (int64_t)j_u64(o, "revision");
	h->raft_term = j_u64(o, "raft_term");
}

/* POSTs body (taken) to path on cli and returns the decoded 200 answer; on an error answer
 * exits with etcd's message, as etcdctl's ExitWithError(ExitError, err). */
static cJSON *call(kc_etcd *cli, const char *path, cJSON *body, long *status_out)
{
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	char *resp = NULL;
	long status = 0;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_post_raw(cli, path, text, &resp, &status, &err);
	free(text);
	if (rc)
		ctl_die_err(rc, &err);
	cJSON *j = resp ? cJSON_Parse(resp) : NULL;
	if (status_out)
		*status_out = status;
	if (status_out && status == 404) {
		free(resp);
		cJSON_Delete(j);
		return NULL;
	}
	if (status != 200) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
		if (!cJSON_IsString(e) || !e->valuestring[0])
			e = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (cJSON_IsString(e) && e->valuestring[0])
			ctl_die(CTL_EXIT_ERROR, "%s", e->valuestring);
		ctl_die(CTL_EXIT_ERROR, "%s: HTTP %ld: %.200s", path, status, resp ? resp : "");
	}
	free(resp);
	if (!j)
		ctl_die(CTL_EXIT_ERROR, "%s: malformed answer", path);
	return j;
}

static cJSON *url_array(const char *list)
{
	/* etcdctl: strings.Split(memberPeerURLs, ",") */
	cJSON *arr = cJSON_CreateArray();
	char *copy = strdup(list);
	if (!arr || !copy)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	char *p = copy;
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = 0;
		cJSON_AddItemToArray(arr, cJSON_CreateString(p));
		if (!comma)
			break;
		p = comma + 1;
	}
	free(copy);
	return arr;
}

static cJSON *id_body(uint64_t id)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, id);
	cJSON *b = cJSON_CreateObject();
	if (!b || !cJSON_AddStringToObject(b, "ID", buf))
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	return b;
}

/* etcdctl: strconv.ParseUint(arg, 16, 64) */
static uint64_t parse_member_id(const char *s, bool move_leader)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 16);
	if (errno || end == s || *end || *s == '-' || *s == '+' || strncasecmp(s, "0x", 2) == 0) {
		const char *why = errno == ERANGE ? "value out of range" : "invalid syntax";
		if (move_leader)
			ctl_die(CTL_EXIT_BADARGS, "strconv.ParseUint: parsing \"%s\": %s", s, why);
		ctl_die(CTL_EXIT_BADARGS, "bad member ID arg (strconv.ParseUint: parsing \"%s\": %s), expecting ID in Hex", s,
		        why);
	}
	return v;
}

/* ---- printing ---- */

static const char *j_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static size_t j_strs(const cJSON *o, const char *name, char ***out)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name);
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
	*out = calloc(n > 0 ? (size_t)n : 1, sizeof(char *));
	if (!*out)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	size_t k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
	{
		if (cJSON_IsString(it))
			(*out)[k++] = it->valuestring; /* borrowed from the cJSON tree */
	}
	return k;
}

/* A Member as Go's encoding/json prints etcdserverpb.Member (omitempty). */
static void json_member(const cJSON *m)
{
	char **v;
	size_t n;
	printf("{\"ID\":%" PRIu64, j_u64(m, "ID"));
	if (j_str(m, "name")[0]) {
		fputs(",\"name\":", stdout);
		ctl_json_str(stdout, j_str(m, "name"));
	}
	n = j_strs(m, "peerURLs", &v);
	if (n) {
		fputs(",\"peerURLs\":", stdout);
		ctl_json_strs(stdout, v, n);
	}
	free(v);
	n = j_strs(m, "clientURLs", &v);
	if (n) {
		fputs(",\"clientURLs\":", stdout);
		ctl_json_strs(stdout, v, n);
	}
	free(v);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "isLearner")))
		fputs(",\"isLearner\":true", stdout);
	putchar('}');
}

static void json_response(const cJSON *resp, bool with_member)
{
	struct kc_etcd_header h;
	j_header(resp, &h);
	fputs("{\"header\":", stdout);
	ctl_json_header(stdout, &h);
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp, "member");
	if (with_member && cJSON_IsObject(m)) {
		fputs(",\"member\":", stdout);
		json_member(m);
	}
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(resp, "members");
	if (cJSON_GetArraySize(arr) > 0) {
		fputs(",\"members\":[", stdout);
		bool first = true;
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			if (!first)
				putchar(',');
			first = false;
			json_member(it);
		}
		putchar(']');
	}
	printf("}\n");
}

/* Go's %q for the ETCD_* lines: double-quoted with backslash escapes. */
static void go_quote(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* ---- member list ---- */

static int member_list(struct ctl *c)
{
	struct kc_etcd_member_list ml;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_member_list(c->cli, &ml, &err);
	if (rc)
		ctl_die_err(rc, &err);
	if (c->out == CTL_OUT_JSON) {
		fputs("{\"header\":", stdout);
		ctl_json_header(stdout, &ml.header);
		fputs(",\"members\":[", stdout);
		for (size_t i = 0; i < ml.n_members; i++) {
			const struct kc_etcd_member *m = &ml.members[i];
			printf("%s{\"ID\":%" PRIu64, i ? "," : "", m->id);
			if (m->name[0]) {
				fputs(",\"name\":", stdout);
				ctl_json_str(stdout, m->name);
			}
			if (m->n_peer_urls) {
				fputs(",\"peerURLs\":", stdout);
				ctl_json_strs(stdout, m->peer_urls, m->n_peer_urls);
			}
			if (m->n_client_urls) {
				fputs(",\"clientURLs\":", stdout);
				ctl_json_strs(stdout, m->client_urls, m->n_client_urls);
			}
			if (m->is_learner)
				fputs(",\"isLearner\":true", stdout);
			putchar('}');
		}
		printf("]}\n");
		kc_etcd_member_list_free(&ml);
		return 0;
	}
	static const char *const hdr[] = { "ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER" };
	struct ctl_table t;
	if (c->out == CTL_OUT_TABLE)
		ctl_table_init(&t, 6, hdr);
	for (size_t i = 0; i < ml.n_members; i++) {
		const struct kc_etcd_member *m = &ml.members[i];
		char id[32], peers[2048], clients[2048];
		snprintf(id, sizeof(id), "%" PRIx64, m->id);
		ctl_join(peers, sizeof(peers), m->peer_urls, m->n_peer_urls, ",");
		ctl_join(clients, sizeof(clients), m->client_urls, m->n_client_urls, ",");
		/* etcdctl: a member without a name has not started (joined) yet */
		const char *status = m->name[0] ? "started" : "unstarted";
		const char *learner = m->is_learner ? "true" : "false";
		if (c->out == CTL_OUT_TABLE) {
			const char *row[] = { id, status, m->name, peers, clients, learner };
			ctl_table_row(&t, row);
		} else {
			printf("%s, %s, %s, %s, %s, %s\n", id, status, m->name, peers, clients, learner);
		}
	}
	if (c->out == CTL_OUT_TABLE)
		ctl_table_print(stdout, &t);
	kc_etcd_member_list_free(&ml);
	return 0;
}

/* ---- add / remove / update / promote ---- */

static void no_table(const struct ctl *c)
{
	/* etcdctl's table printer implements only member list and the endpoint tables */
	if (c->out == CTL_OUT_TABLE)
		ctl_die(4, "table not supported as output format");
}

static int member_add(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 3)
		ctl_die(CTL_EXIT_BADARGS, "member name not provided");
	const char *name = a->pos[2];
	const char *urls = ctl_flag(c, "peer-urls");
	if (!urls || !urls[0] || strcmp(urls, "true") == 0)
		ctl_die(CTL_EXIT_BADARGS, "member peer urls not provided");
	no_table(c);
	bool learner = ctl_flag_bool(c, "learner");
	cJSON *body = cJSON_CreateObject();
	if (!body)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	cJSON_AddItemToObject(body, "peerURLs", url_array(urls));
	if (learner)
		cJSON_AddBoolToObject(body, "isLearner", true);
	cJSON *resp = call(c->cli, "/v3/cluster/member/add", body, NULL);
	if (c->out == CTL_OUT_JSON) {
		json_response(resp, true);
		cJSON_Delete(resp);
		return 0;
	}
	struct kc_etcd_header h;
	j_header(resp, &h);
	uint64_t new_id = j_u64(cJSON_GetObjectItemCaseSensitive(resp, "member"), "ID");
	/* etcd 3.4.23 prints the same line for a learner */
	printf("Member %16" PRIx64 " added to cluster %16" PRIx64 "\n", new_id, h.cluster_id);
	cJSON_Delete(resp);

	/* etcdctl lists the members again (the add answer may predate a failover) and prints
	 * the environment the new member must start with; the new member has no name yet, so
	 * the given one is used. */
	cJSON *eb = cJSON_CreateObject();
	cJSON *list = call(c->cli, "/v3/cluster/member/list", eb, NULL);
	size_t cap = 4096, used = 0;
	char *conf = malloc(cap);
	if (!conf)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	conf[0] = 0;
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(list, "members"))
	{
		char **pu;
		size_t n = j_strs(m, "peerURLs", &pu);
		const char *mn = j_u64(m, "ID") == new_id ? name : j_str(m, "name");
		for (size_t k = 0; k < n; k++) {
			size_t need = strlen(mn) + strlen(pu[k]) + 3;
			if (used + need >= cap) {
				cap = (used + need) * 2;
				char *nc = realloc(conf, cap);
				if (!nc)
					ctl_die(CTL_EXIT_ERROR, "out of memory");
				conf = nc;
			}
			used += (size_t)snprintf(conf + used, cap - used, "%s%s=%s", used ? "," : "", mn, pu[k]);
		}
		free(pu);
	}
	cJSON_Delete(list);
	fputs("\nETCD_NAME=", stdout);
	go_quote(name);
	fputs("\nETCD_INITIAL_CLUSTER=", stdout);
	go_quote(conf);
	fputs("\nETCD_INITIAL_ADVERTISE_PEER_URLS=", stdout);
	go_quote(urls);
	fputs("\nETCD_INITIAL_CLUSTER_STATE=\"existing\"\n", stdout);
	free(conf);
	return 0;
}

/* remove, update and promote share one shape: <hexid> [--peer-urls], one call, one line. */
static int member_by_id(struct ctl *c, const char *verb)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 3)
		ctl_die(CTL_EXIT_BADARGS, "member ID is not provided");
	uint64_t id = parse_member_id(a->pos[2], false);
	cJSON *body = id_body(id);
	const char *path, *done;
	if (strcmp(verb, "update") == 0) {
		const char *urls = ctl_flag(c, "peer-urls");
		if (!urls || !urls[0] || strcmp(urls, "true") == 0)
			ctl_die(CTL_EXIT_BADARGS, "member peer urls not provided");
		cJSON_AddItemToObject(body, "peerURLs", url_array(urls));
		path = "/v3/cluster/member/update";
		done = "updated in";
	} else if (strcmp(verb, "remove") == 0) {
		path = "/v3/cluster/member/remove";
		done = "removed from";
	} else {
		path = "/v3/cluster/member/promote";
		done = "promoted in";
	}
	no_table(c);
	cJSON *resp = call(c->cli, path, body, NULL);
	if (c->out == CTL_OUT_JSON) {
		json_response(resp, false);
	} else {
		struct kc_etcd_header h;
		j_header(resp, &h);
		printf("Member %16" PRIx64 " %s cluster %16" PRIx64 "\n", id, done, h.cluster_id);
	}
	cJSON_Delete(resp);
	return 0;
}

int ctl_cmd_member(struct ctl *c)
{
	struct ctl_args *a = c->args;
	const char *sub = a->n_pos >= 2 ? a->pos[1] : "";
	if (strcmp(sub, "list") == 0)
		return member_list(c);
	if (strcmp(sub, "add") == 0)
		return member_add(c);
	if (strcmp(sub, "remove") == 0 || strcmp(sub, "update") == 0 || strcmp(sub, "promote") == 0)
		return member_by_id(c, sub);
	ctl_die(CTL_EXIT_BADARGS, "member needs a subcommand: list, add, remove, update or promote");
}

/* ---- move-leader ---- */

int ctl_cmd_move_leader(struct ctl *c)
{
	struct ctl_args *a = c->args;
	if (a->n_pos != 2)
		ctl_die(CTL_EXIT_BADARGS, "move-leader command needs 1 argument");
	uint64_t target = parse_member_id(a->pos[1], true);
	/* etcdctl asks each endpoint for its status and sends the request to the first one
	 * that is the leader; only the leader can transfer leadership. */
	kc_etcd *leader_cli = NULL;
	uint64_t leader_id = 0;
	for (size_t i = 0; i < c->n_endpoints && !leader_cli; i++) {
		kc_etcd *cli = ctl_endpoint_client(c, c->endpoints[i]);
		struct kc_etcd_status s;
		struct kc_etcd_error err = { 0 };
		int rc = kc_etcd_status_get(cli, 0, &s, &err);
		if (rc)
			ctl_die_err(rc, &err);
		if (s.header.member_id == s.leader) {
			leader_cli = cli;
			leader_id = s.leader;
		} else {
			kc_etcd_free(cli);
		}
		kc_etcd_status_free(&s);
	}
	if (!leader_cli) {
		char eps[2048];
		ctl_join(eps, sizeof(eps), c->endpoints, c->n_endpoints, " ");
		ctl_die(CTL_EXIT_BADARGS, "no leader endpoint given at [%s]", eps);
	}
	char tid[32];
	snprintf(tid, sizeof(tid), "%" PRIu64, target);
	cJSON *body = cJSON_CreateObject();
	if (!body || !cJSON_AddStringToObject(body, "targetID", tid))
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	/* etcd 3.4's gateway route for Maintenance.MoveLeader */
	long status = 0;
	cJSON *resp = call(leader_cli, "/v3/maintenance/transfer-leadership", cJSON_Duplicate(body, true), &status);
	if (!resp && status == 404)
		resp = call(leader_cli, "/v3/maintenance/move_leader", cJSON_Duplicate(body, true), NULL);
	cJSON_Delete(body);
	kc_etcd_free(leader_cli);
	if (!resp)
		ctl_die(CTL_EXIT_ERROR, "move-leader is not served by this endpoint (HTTP 404)");
	if (c->out == CTL_OUT_JSON) {
		if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(resp, "header"))) {
			struct kc_etcd_header h;
			j_header(resp, &h);
			fputs("{\"header\":", stdout);
			ctl_json_header(stdout, &h);
			printf("}\n");
		} else {
			printf("{}\n");
		}
	} else {
		printf("Leadership transferred from %" PRIx64 " to %" PRIx64 "\n", leader_id, target);
	}
	cJSON_Delete(resp);
	return 0;
}
