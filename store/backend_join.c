/* Joining a running cluster (--initial-cluster-state existing), both sides:
 *
 * - the joiner, before it starts Raft, asks the other members of --initial-cluster for the
 *   member list (peer_members.h) and takes its own id, everyone's ids and the cluster id
 *   from it, as etcd 3.4's NewServer does for a member without a WAL and !NewCluster:
 *   GetClusterFromRemotePeers(getRemotePeerURLs(cl, name)), then
 *   ValidateClusterAndAssignIDs(cl, existing) (cluster_assign_ids). Runtime-added ids carry
 *   the Unix second of the `member add` (cluster.h), so they cannot be derived locally.
 * - every member answers those requests from its replicated member metadata
 *   (backend_members_blob, the source of peer.c's answers).
 *
 * One deviation, to make a join right after `member add` deterministic: etcd takes the first
 * member that answers, even one that has not applied the add yet (then "member count is
 * unequal" and the joiner exits); here an answer that does not validate is kept only as the
 * error to report if no other member's answer validates. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "errors.h"
#include "log.h"
#include "peer_members.h"

int backend_members_blob(void *arg, uint8_t **blob, size_t *len)
{
	struct kv *kv = arg;
	pthread_rwlock_rdlock(&kv->lock);
	int rc = cluster_encode(&kv->members, blob, len);
	pthread_rwlock_unlock(&kv->lock);
	return rc;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The joiner's metadata: the running cluster's (ids, learners, published names and client
 * URLs, removed ids), with --initial-cluster's names for members that have not published
 * one yet (ourselves at least), as etcd's local cluster keeps the flag names. */
static int merge_names(struct cluster_members *remote, const struct cluster_members *local)
{
	for (size_t i = 0; i < remote->n; i++) {
		struct cluster_member *r = &remote->v[i];
		const struct cluster_member *l = cluster_find(local, r->id);
		if (r->name && *r->name)
			continue;
		if (l && l->name && *l->name) {
			char *n = strdup(l->name);
			if (!n)
				return -ENOMEM;
			free(r->name);
			r->name = n;
		}
	}
	return 0;
}

int backend_join_existing(struct kv *kv, const struct kv_config *cfg,
			  struct cluster_members *members, uint64_t *self_id, uint64_t *cluster_id)
{
	/* etcd's getRemotePeerURLs: every peer URL of the other members, sorted. */
	size_t n = 0;
	for (size_t i = 0; i < members->n; i++)
		if (strcmp(members->v[i].name, kv->name) != 0)
			n += members->v[i].n_peer;
	const char **urls = calloc(n ? n : 1, sizeof(*urls));
	if (!urls)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < members->n; i++)
		if (strcmp(members->v[i].name, kv->name) != 0)
			for (size_t k = 0; k < members->v[i].n_peer; k++)
				urls[n++] = members->v[i].peer_urls[k];
	qsort(urls, n, sizeof(*urls), strcmp_p);

	struct peer_tls_config tls = { 0 };
	tls.cert_file = cfg->peer_cert_file && *cfg->peer_cert_file ? cfg->peer_cert_file : NULL;
	tls.key_file = cfg->peer_key_file && *cfg->peer_key_file ? cfg->peer_key_file : NULL;
	tls.trusted_ca_file = cfg->peer_trusted_ca_file && *cfg->peer_trusted_ca_file
				      ? cfg->peer_trusted_ca_file
				      : NULL;
	tls.client_cert_auth = cfg->peer_client_cert_auth;

	bool answered = false;
	char first_err[1024] = "", first_cluster[4096] = "";
	int rc = -EINVAL;
	for (size_t i = 0; i < n; i++) {
		struct cluster_members remote;
		uint64_t cid = 0;
		char err[512];
		int frc = peer_members_fetch(urls[i], &tls, PEER_MEMBERS_TIMEOUT_NS, &cid, &remote,
					     err, sizeof(err));
		if (frc) {
			/* etcd: "failed to get cluster response" address=<url>/members */
			kc_warn("failed to get cluster response from %s: %s", urls[i], err);
			if (frc == -ENOMEM) {
				rc = frc;
				break;
			}
			continue;
		}
		struct cluster_members local;
		if ((rc = cluster_members_copy(&local, members))) {
			cluster_members_free(&remote);
			break;
		}
		char verr[1024];
		int vrc = cluster_assign_ids(&local, &remote, verr, sizeof(verr));
		if (vrc == 0)
			vrc = merge_names(&remote, &local);
		if (vrc == 0) {
			const struct cluster_member *self = NULL;
			for (size_t k = 0; k < local.n; k++)
				if (strcmp(local.v[k].name, kv->name) == 0)
					self = &local.v[k];
			*self_id = self ? self->id : 0;
			*cluster_id = cid;
			kc_info("fetched the member list of cluster %016" PRIx64 " from %s: %zu "
				"members, this member is %016" PRIx64, cid, urls[i], remote.n,
				*self_id);
			cluster_members_free(&local);
			cluster_members_free(members);
			*members = remote;
			free(urls);
			return self ? 0 : -EINVAL;
		}
		if (vrc == -ENOMEM) {
			cluster_members_free(&local);
			cluster_members_free(&remote);
			rc = vrc;
			break;
		}
		if (!answered) {
			answered = true;
			snprintf(first_err, sizeof(first_err), "%s", verr);
			cluster_string(&remote, cid, first_cluster, sizeof(first_cluster));
		}
		kc_warn("member list from %s does not match --initial-cluster: %s", urls[i], verr);
		cluster_members_free(&local);
		cluster_members_free(&remote);
	}
	free(urls);
	if (rc == -ENOMEM)
		return rc;
	if (answered)
		/* etcd: fmt.Errorf("error validating peerURLs %s: %v", existingCluster, err) */
		kc_error("error validating peerURLs %s: %s", first_cluster, first_err);
	else
		/* etcd: "cannot fetch cluster info from peer urls: could not retrieve cluster
		 * information from the given URLs" */
		kc_error("cannot fetch cluster info from peer urls: could not retrieve cluster "
			 "information from the given URLs");
	return -EINVAL;
}
