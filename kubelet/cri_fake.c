/* The fake CRI runtime; see cri_fake.h.  State lives in two small arrays under one mutex
 * (a hollow node holds ~100 pods; linear scans are cheaper than any index at that size).
 * Replies are built from the state under the lock and packed there, so no pointer into
 * the state ever leaves it. */
#include "cri_fake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kubelet/cri/api.pb-c.h"

#define RT "/runtime.v1.RuntimeService/"
#define IMG "/runtime.v1.ImageService/"

typedef struct fkv {
	char *key, *value;
} fkv;

typedef struct fsandbox {
	char id[65];
	char *name, *ns, *uid;
	uint32_t attempt;
	int ready;
	int64_t created_at;
	char ip[INET_ADDRSTRLEN];
	fkv *labels;
	size_t nlabels;
} fsandbox;

typedef struct fcontainer {
	char id[65];
	char sandbox_id[65];
	char *name, *image, *log_path;
	uint32_t attempt;
	int state; /* RUNTIME__V1__CONTAINER_STATE__* */
	int64_t created_at, started_at, finished_at;
	fkv *labels;
	size_t nlabels;
} fcontainer;

struct cri_fake {
	pthread_mutex_t mu;
	uint32_t net, mask;     /* pod CIDR, host order */
	uint32_t next_host;     /* next host offset to try */
	fsandbox *sb;
	size_t nsb, capsb;
	fcontainer *ct;
	size_t nct, capct;
	char **images;          /* names seen by ImageStatus / PullImage (ListImages) */
	size_t nimages;
};

static int64_t now_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parse_cidr(const char *s, uint32_t *net, uint32_t *mask)
{
	if (!s || !s[0])
		s = CRI_FAKE_DEFAULT_CIDR;
	char buf[64];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = 0;
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || bits < 8 || bits > 30)
		return -EINVAL;
	*mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	*net = ntohl(a.s_addr) & *mask;
	return 0;
}

int cri_fake_new(const char *pod_cidr, cri_fake **out)
{
	cri_fake *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	if (parse_cidr(pod_cidr, &f->net, &f->mask) < 0) {
		free(f);
		return -EINVAL;
	}
	f->next_host = 2; /* .1 is the bridge's, as a CNI bridge's gateway */
	pthread_mutex_init(&f->mu, NULL);
	*out = f;
	return 0;
}

int cri_fake_set_pod_cidr(cri_fake *f, const char *pod_cidr)
{
	uint32_t net, mask;
	if (parse_cidr(pod_cidr, &net, &mask) < 0)
		return -EINVAL;
	pthread_mutex_lock(&f->mu);
	f->net = net;
	f->mask = mask;
	f->next_host = 2;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void kv_free(fkv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void sandbox_clear(fsandbox *s)
{
	free(s->name);
	free(s->ns);
	free(s->uid);
	kv_free(s->labels, s->nlabels);
}

static void container_clear(fcontainer *c)
{
	free(c->name);
	free(c->image);
	free(c->log_path);
	kv_free(c->labels, c->nlabels);
}

void cri_fake_free(cri_fake *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nsb; i++)
		sandbox_clear(&f->sb[i]);
	for (size_t i = 0; i < f->nct; i++)
		container_clear(&f->ct[i]);
	for (size_t i = 0; i < f->nimages; i++)
		free(f->images[i]);
	free(f->images);
	free(f->sb);
	free(f->ct);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void cri_fake_counts(cri_fake *f, int *sandboxes, int *containers)
{
	pthread_mutex_lock(&f->mu);
	if (sandboxes)
		*sandboxes = (int)f->nsb;
	if (containers)
		*containers = (int)f->nct;
	pthread_mutex_unlock(&f->mu);
}

/* ---- helpers ---- */

static int fail(cri_grpc_status *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cri_grpc_status *st, int code, const char *fmt, ...)
{
	st->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
	return cri_grpc_code_to_err(code);
}

/* 64 hex digits, as containerd's ids */
static void new_id(char out[65])
{
	unsigned char r[32];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		static unsigned long ctr;
		memset(r, 0, sizeof(r));
		unsigned long v = __atomic_add_fetch(&ctr, 1, __ATOMIC_RELAXED) ^ (unsigned long)now_wall_ns();
		memcpy(r, &v, sizeof(v));
	}
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static char *sdup(const char *s)
{
	return strdup(s ? s : "");
}

/* All CRI map entries share {base, key, value}. */
static int kv_copy(ProtobufCMessage **entries, size_t n, fkv **out, size_t *nout)
{
	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	fkv *kv = calloc(n, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const Runtime__V1__PodSandboxConfig__LabelsEntry *e = (const void *)entries[i];
		kv[i].key = sdup(e->key);
		kv[i].value = sdup(e->value);
		if (!kv[i].key || !kv[i].value) {
			kv_free(kv, i + 1);
			return -ENOMEM;
		}
	}
	*out = kv;
	*nout = n;
	return 0;
}

/* Every selector entry must be among the labels (ListPodSandbox/ListContainers filters). */
static int labels_match(const fkv *kv, size_t n, ProtobufCMessage **sel, size_t nsel)
{
	for (size_t i = 0; i < nsel; i++) {
		const Runtime__V1__PodSandboxFilter__LabelSelectorEntry *e = (const void *)sel[i];
		int found = 0;
		for (size_t k = 0; k < n && !found; k++)
			found = !strcmp(kv[k].key, e->key ? e->key : "") && !strcmp(kv[k].value, e->value ? e->value : "");
		if (!found)
			return 0;
	}
	return 1;
}

/* Map entries for a reply: entries[] and ptrs[] caller-sized n; descriptor per map. */
static ProtobufCMessage **kv_entries(const fkv *kv, size_t n, const ProtobufCMessageDescriptor *d,
				     Runtime__V1__PodSandboxConfig__LabelsEntry *entries,
				     Runtime__V1__PodSandboxConfig__LabelsEntry **ptrs)
{
	for (size_t i = 0; i < n; i++) {
		Runtime__V1__PodSandboxConfig__LabelsEntry init = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
		entries[i] = init;
		entries[i].base.descriptor = d;
		entries[i].key = kv[i].key;
		entries[i].value = kv[i].value;
		ptrs[i] = &entries[i];
	}
	return (ProtobufCMessage **)ptrs;
}

static fsandbox *find_sandbox(cri_fake *f, const char *id)
{
	for (size_t i = 0; id && i < f->nsb; i++)
		if (!strcmp(f->sb[i].id, id))
			return &f->sb[i];
	return NULL;
}

static fcontainer *find_container(cri_fake *f, const char *id)
{
	for (size_t i = 0; id && i < f->nct; i++)
		if (!strcmp(f->ct[i].id, id))
			return &f->ct[i];
	return NULL;
}

static int pack(const ProtobufCMessage *m, uint8_t **resp, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(n ? n : 1);
	if (!b)
		return -ENOMEM;
	protobuf_c_message_pack(m, b);
	*resp = b;
	*len = n;
	return 0;
}

/* a free IP of the pod CIDR (skips the network, .1 and broadcast; reuses released ones) */
static int alloc_ip(cri_fake *f, char out[INET_ADDRSTRLEN])
{
	uint32_t size = ~f->mask + 1u;
	for (uint32_t tries = 0; tries < size; tries++) {
		uint32_t h = f->next_host;
		f->next_host = f->next_host + 1 >= size - 1 ? 2 : f->next_host + 1;
		if (h < 2 || h >= size - 1)
			continue;
		struct in_addr a = { .s_addr = htonl(f->net | h) };
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		int used = 0;
		for (size_t i = 0; i < f->nsb && !used; i++)
			used = f->sb[i].ready && !strcmp(f->sb[i].ip, ip);
		if (!used) {
			memcpy(out, ip, INET_ADDRSTRLEN);
			return 0;
		}
	}
	return -ENOSPC;
}

static int image_seen(cri_fake *f, const char *image)
{
	for (size_t i = 0; i < f->nimages; i++)
		if (!strcmp(f->images[i], image))
			return 0;
	char **n = realloc(f->images, (f->nimages + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	f->images = n;
	if (!(f->images[f->nimages] = strdup(image)))
		return -ENOMEM;
	f->nimages++;
	return 0;
}

/* a stable "sha256:..." id per image name (FNV-1a spread over 64 hex digits) */
static void image_id(const char *image, char out[72])
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = image; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(out, 72, "sha256:%016llx%016llx%016llx%016llx", (unsigned long long)h,
		 (unsigned long long)(h * 31), (unsigned long long)(h * 131), (unsigned long long)(h * 1313));
}

static void fill_image(Runtime__V1__Image *im, const char *name, char id[72], char **tags)
{
	Runtime__V1__Image init = RUNTIME__V1__IMAGE__INIT;
	*im = init;
	image_id(name, id);
	im->id = id;
	tags[0] = (char *)name;
	im->n_repo_tags = 1;
	im->repo_tags = tags;
	im->size = 1 << 20; /* a size of 0 is an invalid reply (remote_image.go) */
}

/* ---- RPCs (each called with f->mu held) ---- */

static int do_version(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len, cri_grpc_status *st)
{
	(void)f;
	(void)req;
	(void)st;
	Runtime__V1__VersionResponse r = RUNTIME__V1__VERSION_RESPONSE__INIT;
	r.version = CRI_FAKE_RUNTIME_VERSION;
	r.runtime_name = CRI_FAKE_RUNTIME_NAME;
	r.runtime_version = CRI_FAKE_RUNTIME_VERSION;
	r.runtime_api_version = "v1";
	return pack(&r.base, resp, len);
}

static int do_status(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len, cri_grpc_status *st)
{
	(void)f;
	(void)req;
	(void)st;
	Runtime__V1__RuntimeCondition c[2] = { RUNTIME__V1__RUNTIME_CONDITION__INIT, RUNTIME__V1__RUNTIME_CONDITION__INIT };
	Runtime__V1__RuntimeCondition *cp[2] = { &c[0], &c[1] };
	c[0].type = "RuntimeReady";
	c[0].status = 1;
	c[1].type = "NetworkReady";
	c[1].status = 1;
	Runtime__V1__RuntimeStatus rs = RUNTIME__V1__RUNTIME_STATUS__INIT;
	rs.n_conditions = 2;
	rs.conditions = cp;
	Runtime__V1__StatusResponse r = RUNTIME__V1__STATUS_RESPONSE__INIT;
	r.status = &rs;
	return pack(&r.base, resp, len);
}

static int do_run_sandbox(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			  cri_grpc_status *st)
{
	const Runtime__V1__RunPodSandboxRequest *q = (const void *)req;
	const Runtime__V1__PodSandboxConfig *c = q->config;
	if (!c || !c->metadata || !c->metadata->name || !c->metadata->name[0] || !c->metadata->uid ||
	    !c->metadata->uid[0] || !c->metadata->namespace_ || !c->metadata->namespace_[0])
		return fail(st, CRI_GRPC_INVALID_ARGUMENT, "sandbox config must include metadata with name, namespace and uid");
	if (f->nsb == f->capsb) {
		size_t cap = f->capsb ? f->capsb * 2 : 16;
		fsandbox *n = realloc(f->sb, cap * sizeof(*n));
		if (!n)
			return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		f->sb = n;
		f->capsb = cap;
	}
	fsandbox s;
	memset(&s, 0, sizeof(s));
	if (alloc_ip(f, s.ip) < 0)
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED,
			    "failed to setup network for sandbox: no IP addresses available in the pod CIDR");
	new_id(s.id);
	s.name = sdup(c->metadata->name);
	s.ns = sdup(c->metadata->namespace_);
	s.uid = sdup(c->metadata->uid);
	s.attempt = c->metadata->attempt;
	s.ready = 1;
	s.created_at = now_wall_ns();
	if (!s.name || !s.ns || !s.uid ||
	    kv_copy((ProtobufCMessage **)c->labels, c->n_labels, &s.labels, &s.nlabels) < 0) {
		sandbox_clear(&s);
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	Runtime__V1__RunPodSandboxResponse r = RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT;
	r.pod_sandbox_id = s.id;
	int rc = pack(&r.base, resp, len);
	if (rc < 0) {
		sandbox_clear(&s);
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	f->sb[f->nsb++] = s;
	return 0;
}

static int do_stop_sandbox(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			   cri_grpc_status *st)
{
	const Runtime__V1__StopPodSandboxRequest *q = (const void *)req;
	fsandbox *s = find_sandbox(f, q->pod_sandbox_id);
	if (!s)
		return fail(st, CRI_GRPC_NOT_FOUND, "an error occurred when try to find sandbox %s: not found",
			    q->pod_sandbox_id ? q->pod_sandbox_id : "");
	s->ready = 0;
	int64_t now = now_wall_ns();
	for (size_t i = 0; i < f->nct; i++) {
		fcontainer *c = &f->ct[i];
		if (!strcmp(c->sandbox_id, s->id) && c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING) {
			c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
			c->finished_at = now;
		}
	}
	Runtime__V1__StopPodSandboxResponse r = RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT;
	return pack(&r.base, resp, len);
}

static void remove_container_at(cri_fake *f, size_t i)
{
	container_clear(&f->ct[i]);
	f->ct[i] = f->ct[--f->nct];
}

/* Removing what is not there succeeds (idempotent, as the CRI asks of RemovePodSandbox). */
static int do_remove_sandbox(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			     cri_grpc_status *st)
{
	(void)st;
	const Runtime__V1__RemovePodSandboxRequest *q = (const void *)req;
	fsandbox *s = find_sandbox(f, q->pod_sandbox_id);
	if (s) {
		for (size_t i = 0; i < f->nct;) {
			if (!strcmp(f->ct[i].sandbox_id, s->id))
				remove_container_at(f, i);
			else
				i++;
		}
		sandbox_clear(s);
		*s = f->sb[--f->nsb];
	}
	Runtime__V1__RemovePodSandboxResponse r = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
	return pack(&r.base, resp, len);
}

static void sandbox_md(const fsandbox *s, Runtime__V1__PodSandboxMetadata *md)
{
	Runtime__V1__PodSandboxMetadata init = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	*md = init;
	md->name = s->name;
	md->namespace_ = s->ns;
	md->uid = s->uid;
	md->attempt = s->attempt;
}

static int do_sandbox_status(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			     cri_grpc_status *st)
{
	const Runtime__V1__PodSandboxStatusRequest *q = (const void *)req;
	fsandbox *s = find_sandbox(f, q->pod_sandbox_id);
	if (!s)
		return fail(st, CRI_GRPC_NOT_FOUND, "an error occurred when try to find sandbox: not found");
	Runtime__V1__PodSandboxMetadata md;
	sandbox_md(s, &md);
	Runtime__V1__PodSandboxNetworkStatus net = RUNTIME__V1__POD_SANDBOX_NETWORK_STATUS__INIT;
	net.ip = s->ip;
	Runtime__V1__PodSandboxStatus ss = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
	ss.id = s->id;
	ss.metadata = &md;
	ss.state = s->ready ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
	ss.created_at = s->created_at;
	/* upstream's fake keeps the IP after a stop; the kubelet ignores it then */
	ss.network = &net;
	Runtime__V1__PodSandboxStatus__LabelsEntry *le = calloc(s->nlabels + 1, sizeof(*le));
	Runtime__V1__PodSandboxStatus__LabelsEntry **lp = calloc(s->nlabels + 1, sizeof(*lp));
	if (!le || !lp) {
		free(le);
		free(lp);
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	ss.labels = (Runtime__V1__PodSandboxStatus__LabelsEntry **)kv_entries(
		s->labels, s->nlabels, &runtime__v1__pod_sandbox_status__labels_entry__descriptor, (void *)le, (void *)lp);
	ss.n_labels = s->nlabels;
	Runtime__V1__PodSandboxStatusResponse r = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
	r.status = &ss;
	r.timestamp = now_wall_ns();
	int rc = pack(&r.base, resp, len);
	free(le);
	free(lp);
	return rc;
}

static int do_list_sandbox(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			   cri_grpc_status *st)
{
	const Runtime__V1__ListPodSandboxRequest *q = (const void *)req;
	const Runtime__V1__PodSandboxFilter *flt = q->filter;
	size_t nl = 0;
	for (size_t i = 0; i < f->nsb; i++)
		nl += f->sb[i].nlabels;
	Runtime__V1__PodSandbox *items = calloc(f->nsb + 1, sizeof(*items));
	Runtime__V1__PodSandbox **ip = calloc(f->nsb + 1, sizeof(*ip));
	Runtime__V1__PodSandboxMetadata *mds = calloc(f->nsb + 1, sizeof(*mds));
	Runtime__V1__PodSandbox__LabelsEntry *le = calloc(nl + 1, sizeof(*le));
	Runtime__V1__PodSandbox__LabelsEntry **lp = calloc(nl + 1, sizeof(*lp));
	int rc;
	if (!items || !ip || !mds || !le || !lp) {
		rc = fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	size_t n = 0, lo = 0;
	for (size_t i = 0; i < f->nsb; i++) {
		const fsandbox *s = &f->sb[i];
		int state = s->ready ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
				     : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
		if (flt) {
			if (flt->id && flt->id[0] && strcmp(flt->id, s->id))
				continue;
			if (flt->state && (int)flt->state->state != state)
				continue;
			if (!labels_match(s->labels, s->nlabels, (ProtobufCMessage **)flt->label_selector,
					  flt->n_label_selector))
				continue;
		}
		Runtime__V1__PodSandbox init = RUNTIME__V1__POD_SANDBOX__INIT;
		items[n] = init;
		sandbox_md(s, &mds[n]);
		items[n].id = (char *)s->id;
		items[n].metadata = &mds[n];
		items[n].state = state;
		items[n].created_at = s->created_at;
		items[n].labels = (Runtime__V1__PodSandbox__LabelsEntry **)kv_entries(
			s->labels, s->nlabels, &runtime__v1__pod_sandbox__labels_entry__descriptor, (void *)(le + lo),
			(void *)(lp + lo));
		items[n].n_labels = s->nlabels;
		lo += s->nlabels;
		ip[n] = &items[n];
		n++;
	}
	Runtime__V1__ListPodSandboxResponse r = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
	r.n_items = n;
	r.items = ip;
	rc = pack(&r.base, resp, len);
out:
	free(items);
	free(ip);
	free(mds);
	free(le);
	free(lp);
	return rc;
}

static int do_create_container(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			       cri_grpc_status *st)
{
	const Runtime__V1__CreateContainerRequest *q = (const void *)req;
	fsandbox *s = find_sandbox(f, q->pod_sandbox_id);
	if (!s)
		return fail(st, CRI_GRPC_NOT_FOUND, "failed to get sandbox %s: not found",
			    q->pod_sandbox_id ? q->pod_sandbox_id : "");
	if (!s->ready)
		return fail(st, CRI_GRPC_FAILED_PRECONDITION, "sandbox container %s is not running", s->id);
	const Runtime__V1__ContainerConfig *c = q->config;
	if (!c || !c->metadata || !c->metadata->name || !c->metadata->name[0] || !c->image || !c->image->image)
		return fail(st, CRI_GRPC_INVALID_ARGUMENT, "container config must include metadata and image");
	if (f->nct == f->capct) {
		size_t cap = f->capct ? f->capct * 2 : 16;
		fcontainer *n = realloc(f->ct, cap * sizeof(*n));
		if (!n)
			return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		f->ct = n;
		f->capct = cap;
	}
	fcontainer k;
	memset(&k, 0, sizeof(k));
	new_id(k.id);
	memcpy(k.sandbox_id, s->id, sizeof(k.sandbox_id));
	k.name = sdup(c->metadata->name);
	k.image = sdup(c->image->image);
	k.log_path = sdup(c->log_path);
	k.attempt = c->metadata->attempt;
	k.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
	k.created_at = now_wall_ns();
	if (!k.name || !k.image || !k.log_path ||
	    kv_copy((ProtobufCMessage **)c->labels, c->n_labels, &k.labels, &k.nlabels) < 0) {
		container_clear(&k);
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	Runtime__V1__CreateContainerResponse r = RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT;
	r.container_id = k.id;
	if (pack(&r.base, resp, len) < 0) {
		container_clear(&k);
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	f->ct[f->nct++] = k;
	return 0;
}

static int do_start_container(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			      cri_grpc_status *st)
{
	const Runtime__V1__StartContainerRequest *q = (const void *)req;
	fcontainer *c = find_container(f, q->container_id);
	if (!c)
		return fail(st, CRI_GRPC_NOT_FOUND, "an error occurred when try to find container \"%s\": not found",
			    q->container_id ? q->container_id : "");
	if (c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED)
		return fail(st, CRI_GRPC_UNKNOWN, "container %s is not in created state", c->id);
	c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	c->started_at = now_wall_ns();
	Runtime__V1__StartContainerResponse r = RUNTIME__V1__START_CONTAINER_RESPONSE__INIT;
	return pack(&r.base, resp, len);
}

static int do_stop_container(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			     cri_grpc_status *st)
{
	const Runtime__V1__StopContainerRequest *q = (const void *)req;
	fcontainer *c = find_container(f, q->container_id);
	if (!c)
		return fail(st, CRI_GRPC_NOT_FOUND, "an error occurred when try to find container \"%s\": not found",
			    q->container_id ? q->container_id : "");
	if (c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED) {
		c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
		c->finished_at = now_wall_ns();
	}
	Runtime__V1__StopContainerResponse r = RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT;
	return pack(&r.base, resp, len);
}

static int do_remove_container(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			       cri_grpc_status *st)
{
	(void)st;
	const Runtime__V1__RemoveContainerRequest *q = (const void *)req;
	fcontainer *c = find_container(f, q->container_id);
	if (c)
		remove_container_at(f, (size_t)(c - f->ct));
	Runtime__V1__RemoveContainerResponse r = RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT;
	return pack(&r.base, resp, len);
}

static int do_list_containers(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			      cri_grpc_status *st)
{
	const Runtime__V1__ListContainersRequest *q = (const void *)req;
	const Runtime__V1__ContainerFilter *flt = q->filter;
	size_t nl = 0;
	for (size_t i = 0; i < f->nct; i++)
		nl += f->ct[i].nlabels;
	Runtime__V1__Container *items = calloc(f->nct + 1, sizeof(*items));
	Runtime__V1__Container **ip = calloc(f->nct + 1, sizeof(*ip));
	Runtime__V1__ContainerMetadata *mds = calloc(f->nct + 1, sizeof(*mds));
	Runtime__V1__ImageSpec *ims = calloc(f->nct + 1, sizeof(*ims));
	char (*ids)[72] = calloc(f->nct + 1, sizeof(*ids));
	Runtime__V1__Container__LabelsEntry *le = calloc(nl + 1, sizeof(*le));
	Runtime__V1__Container__LabelsEntry **lp = calloc(nl + 1, sizeof(*lp));
	int rc;
	if (!items || !ip || !mds || !ims || !ids || !le || !lp) {
		rc = fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	size_t n = 0, lo = 0;
	for (size_t i = 0; i < f->nct; i++) {
		const fcontainer *c = &f->ct[i];
		if (flt) {
			if (flt->id && flt->id[0] && strcmp(flt->id, c->id))
				continue;
			if (flt->pod_sandbox_id && flt->pod_sandbox_id[0] && strcmp(flt->pod_sandbox_id, c->sandbox_id))
				continue;
			if (flt->state && (int)flt->state->state != c->state)
				continue;
			if (!labels_match(c->labels, c->nlabels, (ProtobufCMessage **)flt->label_selector,
					  flt->n_label_selector))
				continue;
		}
		Runtime__V1__Container init = RUNTIME__V1__CONTAINER__INIT;
		Runtime__V1__ContainerMetadata mi = RUNTIME__V1__CONTAINER_METADATA__INIT;
		Runtime__V1__ImageSpec ii = RUNTIME__V1__IMAGE_SPEC__INIT;
		items[n] = init;
		mds[n] = mi;
		ims[n] = ii;
		mds[n].name = c->name;
		mds[n].attempt = c->attempt;
		ims[n].image = c->image;
		image_id(c->image, ids[n]);
		items[n].id = (char *)c->id;
		items[n].pod_sandbox_id = (char *)c->sandbox_id;
		items[n].metadata = &mds[n];
		items[n].image = &ims[n];
		items[n].image_ref = ids[n];
		items[n].state = c->state;
		items[n].created_at = c->created_at;
		items[n].labels = (Runtime__V1__Container__LabelsEntry **)kv_entries(
			c->labels, c->nlabels, &runtime__v1__container__labels_entry__descriptor, (void *)(le + lo),
			(void *)(lp + lo));
		items[n].n_labels = c->nlabels;
		lo += c->nlabels;
		ip[n] = &items[n];
		n++;
	}
	Runtime__V1__ListContainersResponse r = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
	r.n_containers = n;
	r.containers = ip;
	rc = pack(&r.base, resp, len);
out:
	free(items);
	free(ip);
	free(mds);
	free(ims);
	free(ids);
	free(le);
	free(lp);
	return rc;
}

static int do_container_status(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			       cri_grpc_status *st)
{
	const Runtime__V1__ContainerStatusRequest *q = (const void *)req;
	fcontainer *c = find_container(f, q->container_id);
	if (!c)
		return fail(st, CRI_GRPC_NOT_FOUND, "an error occurred when try to find container \"%s\": not found",
			    q->container_id ? q->container_id : "");
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	md.name = c->name;
	md.attempt = c->attempt;
	Runtime__V1__ImageSpec is = RUNTIME__V1__IMAGE_SPEC__INIT;
	is.image = c->image;
	char iid[72];
	image_id(c->image, iid);
	Runtime__V1__ContainerStatus cs = RUNTIME__V1__CONTAINER_STATUS__INIT;
	cs.id = c->id;
	cs.metadata = &md;
	cs.state = c->state;
	cs.created_at = c->created_at;
	cs.started_at = c->started_at;
	cs.finished_at = c->finished_at;
	cs.exit_code = 0;
	cs.image = &is;
	cs.image_ref = iid;
	cs.log_path = c->log_path;
	if (c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED)
		cs.reason = "Completed";
	Runtime__V1__ContainerStatusResponse r = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
	r.status = &cs;
	return pack(&r.base, resp, len);
}

/* Exec / Attach: a hollow node runs no processes to stream from; say so rather than hand
 * out a URL nothing serves (the kubelet answers the client 501 with this message). */
static int do_streaming(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len, cri_grpc_status *st)
{
	(void)f;
	(void)resp;
	(void)len;
	return fail(st, CRI_GRPC_UNIMPLEMENTED, "the fake runtime runs no processes: %s is not available",
		    req->descriptor == &runtime__v1__exec_request__descriptor ? "exec" : "attach");
}

static int do_exec_sync(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len, cri_grpc_status *st)
{
	const Runtime__V1__ExecSyncRequest *q = (const void *)req;
	fcontainer *c = find_container(f, q->container_id);
	if (!c)
		return fail(st, CRI_GRPC_NOT_FOUND, "an error occurred when try to find container \"%s\": not found",
			    q->container_id ? q->container_id : "");
	if (c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING)
		return fail(st, CRI_GRPC_UNKNOWN, "container %s is not running", c->id);
	Runtime__V1__ExecSyncResponse r = RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT;
	r.exit_code = 0;
	return pack(&r.base, resp, len);
}

static const char *spec_image(const Runtime__V1__ImageSpec *s)
{
	return s && s->image ? s->image : "";
}

static int do_image_status(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			   cri_grpc_status *st)
{
	const Runtime__V1__ImageStatusRequest *q = (const void *)req;
	const char *name = spec_image(q->image);
	if (!name[0])
		return fail(st, CRI_GRPC_INVALID_ARGUMENT, "ImageSpec image is empty");
	if (image_seen(f, name) < 0)
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	Runtime__V1__Image im;
	char id[72], *tags[1];
	fill_image(&im, name, id, tags);
	Runtime__V1__ImageStatusResponse r = RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT;
	r.image = &im;
	return pack(&r.base, resp, len);
}

static int do_pull_image(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len, cri_grpc_status *st)
{
	const Runtime__V1__PullImageRequest *q = (const void *)req;
	const char *name = spec_image(q->image);
	if (!name[0])
		return fail(st, CRI_GRPC_INVALID_ARGUMENT, "ImageSpec image is empty");
	if (image_seen(f, name) < 0)
		return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
	char id[72];
	image_id(name, id);
	Runtime__V1__PullImageResponse r = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
	r.image_ref = id;
	return pack(&r.base, resp, len);
}

static int do_list_images(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			  cri_grpc_status *st)
{
	const Runtime__V1__ListImagesRequest *q = (const void *)req;
	const char *only = q->filter ? spec_image(q->filter->image) : "";
	Runtime__V1__Image *ims = calloc(f->nimages + 1, sizeof(*ims));
	Runtime__V1__Image **ip = calloc(f->nimages + 1, sizeof(*ip));
	char (*ids)[72] = calloc(f->nimages + 1, sizeof(*ids));
	char **tags = calloc(f->nimages + 1, sizeof(*tags));
	int rc;
	if (!ims || !ip || !ids || !tags) {
		rc = fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	size_t n = 0;
	for (size_t i = 0; i < f->nimages; i++) {
		if (only[0] && strcmp(only, f->images[i]))
			continue;
		fill_image(&ims[n], f->images[i], ids[n], &tags[n]);
		ip[n] = &ims[n];
		n++;
	}
	Runtime__V1__ListImagesResponse r = RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT;
	r.n_images = n;
	r.images = ip;
	rc = pack(&r.base, resp, len);
out:
	free(ims);
	free(ip);
	free(ids);
	free(tags);
	return rc;
}

static int do_remove_image(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			   cri_grpc_status *st)
{
	(void)st;
	const Runtime__V1__RemoveImageRequest *q = (const void *)req;
	const char *name = spec_image(q->image);
	for (size_t i = 0; i < f->nimages; i++) {
		if (!strcmp(f->images[i], name)) {
			free(f->images[i]);
			f->images[i] = f->images[--f->nimages];
			break;
		}
	}
	Runtime__V1__RemoveImageResponse r = RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT;
	return pack(&r.base, resp, len);
}

static int do_image_fs_info(cri_fake *f, const ProtobufCMessage *req, uint8_t **resp, size_t *len,
			    cri_grpc_status *st)
{
	(void)f;
	(void)req;
	(void)st;
	Runtime__V1__FilesystemIdentifier id = RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
	id.mountpoint = "/var/lib/fakeRuntime";
	Runtime__V1__UInt64Value used = RUNTIME__V1__UINT64_VALUE__INIT, inodes = RUNTIME__V1__UINT64_VALUE__INIT;
	Runtime__V1__FilesystemUsage u = RUNTIME__V1__FILESYSTEM_USAGE__INIT;
	u.timestamp = now_wall_ns();
	u.fs_id = &id;
	u.used_bytes = &used;
	u.inodes_used = &inodes;
	Runtime__V1__FilesystemUsage *up = &u;
	Runtime__V1__ImageFsInfoResponse r = RUNTIME__V1__IMAGE_FS_INFO_RESPONSE__INIT;
	r.n_image_filesystems = 1;
	r.image_filesystems = &up;
	return pack(&r.base, resp, len);
}

typedef int (*fake_fn)(cri_fake *, const ProtobufCMessage *, uint8_t **, size_t *, cri_grpc_status *);

static const struct {
	const char *path;
	const ProtobufCMessageDescriptor *req;
	fake_fn fn;
} methods[] = {
	{ RT "Version", &runtime__v1__version_request__descriptor, do_version },
	{ RT "Status", &runtime__v1__status_request__descriptor, do_status },
	{ RT "RunPodSandbox", &runtime__v1__run_pod_sandbox_request__descriptor, do_run_sandbox },
	{ RT "StopPodSandbox", &runtime__v1__stop_pod_sandbox_request__descriptor, do_stop_sandbox },
	{ RT "RemovePodSandbox", &runtime__v1__remove_pod_sandbox_request__descriptor, do_remove_sandbox },
	{ RT "PodSandboxStatus", &runtime__v1__pod_sandbox_status_request__descriptor, do_sandbox_status },
	{ RT "ListPodSandbox", &runtime__v1__list_pod_sandbox_request__descriptor, do_list_sandbox },
	{ RT "CreateContainer", &runtime__v1__create_container_request__descriptor, do_create_container },
	{ RT "StartContainer", &runtime__v1__start_container_request__descriptor, do_start_container },
	{ RT "StopContainer", &runtime__v1__stop_container_request__descriptor, do_stop_container },
	{ RT "RemoveContainer", &runtime__v1__remove_container_request__descriptor, do_remove_container },
	{ RT "ListContainers", &runtime__v1__list_containers_request__descriptor, do_list_containers },
	{ RT "ContainerStatus", &runtime__v1__container_status_request__descriptor, do_container_status },
	{ RT "ExecSync", &runtime__v1__exec_sync_request__descriptor, do_exec_sync },
	{ RT "Exec", &runtime__v1__exec_request__descriptor, do_streaming },
	{ RT "Attach", &runtime__v1__attach_request__descriptor, do_streaming },
	{ IMG "ImageStatus", &runtime__v1__image_status_request__descriptor, do_image_status },
	{ IMG "PullImage", &runtime__v1__pull_image_request__descriptor, do_pull_image },
	{ IMG "ListImages", &runtime__v1__list_images_request__descriptor, do_list_images },
	{ IMG "RemoveImage", &runtime__v1__remove_image_request__descriptor, do_remove_image },
	{ IMG "ImageFsInfo", &runtime__v1__image_fs_info_request__descriptor, do_image_fs_info },
};

int cri_fake_call(cri_fake *f, const char *path, const ProtobufCMessage *req, uint8_t **resp, size_t *resp_len,
		  cri_grpc_status *st)
{
	cri_grpc_status local;
	if (!st)
		st = &local;
	st->code = CRI_GRPC_OK;
	st->message[0] = 0;
	if (!f || !path || !req || !resp || !resp_len)
		return -EINVAL;
	*resp = NULL;
	*resp_len = 0;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].path, path))
			continue;
		/* only the bytes travel over gRPC: a request built with another message of the
		 * same shape (cri_client reuses StopPodSandboxRequest for RemovePodSandbox) is
		 * re-read as the method's own type, exactly as a server would decode it */
		ProtobufCMessage *conv = NULL;
		if (req->descriptor != methods[i].req) {
			size_t n = protobuf_c_message_get_packed_size(req);
			uint8_t *b = malloc(n ? n : 1);
			if (!b)
				return fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
			protobuf_c_message_pack(req, b);
			conv = protobuf_c_message_unpack(methods[i].req, NULL, n, b);
			free(b);
			if (!conv)
				return fail(st, CRI_GRPC_INTERNAL, "grpc: error unmarshalling request: want %s",
					    methods[i].req->name);
			req = conv;
		}
		pthread_mutex_lock(&f->mu);
		int rc = methods[i].fn(f, req, resp, resp_len, st);
		pthread_mutex_unlock(&f->mu);
		if (conv)
			protobuf_c_message_free_unpacked(conv, NULL);
		if (rc < 0 && st->code == CRI_GRPC_OK)
			rc = fail(st, CRI_GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return rc;
	}
	return fail(st, CRI_GRPC_UNIMPLEMENTED, "unknown method %s for service runtime.v1 (fake runtime)", path);
}
