/* Pod creator for the scheduler benchmark: the same pods as loadgen.py's make_pod, POSTed
 * by CONC threads over keep-alive HTTPS connections (libcurl), so that creating them costs
 * the two shared cores far less than Python's threads do and the concurrent mode measures
 * the stack rather than the load generator.
 *
 * Usage: podcreate API TOKEN CAFILE PODS CONC SHAPE   (SHAPE: basic or affinity)
 * Exit 0 when every pod was created (201); else 1 with the first error on stderr.
 * Build: cc -O2 -o podcreate podcreate.c -lcurl -pthread */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *api, *cafile, *shape;
static char auth[512];
static int npods;
static atomic_int next_pod, failed;
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;
static char first_err[512];

static size_t discard(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return sz * n;
}

static void fail(const char *fmt, int i, long code, const char *what)
{
	pthread_mutex_lock(&err_mu);
	if (!first_err[0])
		snprintf(first_err, sizeof(first_err), fmt, i, code, what);
	pthread_mutex_unlock(&err_mu);
	atomic_fetch_add(&failed, 1);
}

/* loadgen.py's make_pod: requests as upstream's pod-default.yaml; the affinity shape adds
 * required anti-affinity to its app on the host and a DoNotSchedule zone spread */
static int pod_body(char *b, size_t cap, int i)
{
	if (strcmp(shape, "affinity") == 0)
		return snprintf(b, cap,
				"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%06d\","
				"\"labels\":{\"app\":\"app-%d\"}},\"spec\":{\"containers\":[{\"name\":\"pause\","
				"\"image\":\"registry.k8s.io/pause:3.10\",\"resources\":{\"requests\":{\"cpu\":"
				"\"100m\",\"memory\":\"500Mi\"}}}],\"affinity\":{\"podAntiAffinity\":{"
				"\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{"
				"\"matchLabels\":{\"app\":\"app-%d\"}},\"topologyKey\":\"kubernetes.io/hostname\"}]}},"
				"\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":"
				"\"topology.kubernetes.io/zone\",\"whenUnsatisfiable\":\"DoNotSchedule\","
				"\"labelSelector\":{\"matchLabels\":{\"app\":\"app-%d\"}}}]}}",
				i, i % 50, i % 50, i % 50);
	return snprintf(b, cap,
			"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench-%06d\"},"
			"\"spec\":{\"containers\":[{\"name\":\"pause\",\"image\":\"registry.k8s.io/pause:3.10\","
			"\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"500Mi\"}}}]}}",
			i);
}

static void *worker(void *arg)
{
	(void)arg;
	CURL *h = curl_easy_init();
	if (!h) {
		fail("pod %d: HTTP %ld %s", -1, 0, "curl_easy_init failed");
		return NULL;
	}
	char url[1024], body[2048];
	snprintf(url, sizeof(url), "%s/api/v1/namespaces/default/pods", api);
	struct curl_slist *hdrs = NULL;
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	for (;;) {
		int i = atomic_fetch_add(&next_pod, 1);
		if (i >= npods)
			break;
		int n = pod_body(body, sizeof(body), i);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)n);
		CURLcode rc = CURLE_OK;
		for (int attempt = 0; attempt < 5; attempt++) /* transport errors: reconnect */
			if ((rc = curl_easy_perform(h)) == CURLE_OK)
				break;
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (rc != CURLE_OK)
			fail("pod bench-%06d: HTTP %ld %s", i, 0, curl_easy_strerror(rc));
		else if (code != 201)
			fail("pod bench-%06d: HTTP %ld %s", i, code, "(not 201)");
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: podcreate API TOKEN CAFILE PODS CONC SHAPE\n");
		return 2;
	}
	api = argv[1];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
	cafile = argv[3];
	npods = atoi(argv[4]);
	int conc = atoi(argv[5]);
	shape = argv[6];
	if (conc < 1 || conc > 256 || npods < 0) {
		fprintf(stderr, "podcreate: bad PODS or CONC\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_t th[256];
	int started = 0;
	for (int i = 0; i < conc; i++)
		if (pthread_create(&th[started], NULL, worker, NULL) == 0)
			started++;
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	curl_global_cleanup();
	if (!started || atomic_load(&failed)) {
		fprintf(stderr, "%d pods failed; first: %s\n", atomic_load(&failed),
			first_err[0] ? first_err : "no worker started");
		return 1;
	}
	return 0;
}
