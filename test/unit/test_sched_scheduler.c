/* The scheduling cycle with a fake API: informer events in, bindings, events and the
 * PodScheduled condition out; assume/forget; unschedulable pods retried on node events. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "errors.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "../../scheduler/scheduler.h"

typedef struct fake_api {
	sched_api base;
	int binds, conditions, events;
	int fail_binds; /* fail this many binds */
	char last_bind_pod[600], last_bind_node[300];
	char last_event_type[32], last_event_reason[64], last_event_msg[2048];
	char last_cond_reason[64], last_cond_msg[2048];
	int deletes;
	char deleted[4][600];
	char nominated_pod[600], nominated_node[300];
	char preempted_pod[600], preempted_msg[600];
} fake_api;

static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;

static int f_bind(sched_api *a, const sched_pod *pod, const char *node, char *err, size_t len)
{
	fake_api *f = (fake_api *)a;
	pthread_mutex_lock(&fake_mu);
	int rc = 0;
	if (f->fail_binds > 0) {
		f->fail_binds--;
		snprintf(err, len, "pods \"%s\" is being deleted", pod->name);
		rc = KC_ECONFLICT;
	} else {
		f->binds++;
		snprintf(f->last_bind_pod, sizeof(f->last_bind_pod), "%s", pod->key);
		snprintf(f->last_bind_node, sizeof(f->last_bind_node), "%s", node);
	}
	pthread_mutex_unlock(&fake_mu);
	return rc;
}

static int f_cond(sched_api *a, const sched_pod *pod, const char *reason, const char *msg)
{
	(void)pod;
	fake_api *f = (fake_api *)a;
	pthread_mutex_lock(&fake_mu);
	f->conditions++;
	snprintf(f->last_cond_reason, sizeof(f->last_cond_reason), "%s", reason);
	snprintf(f->last_cond_msg, sizeof(f->last_cond_msg), "%s", msg);
	pthread_mutex_unlock(&fake_mu);
	return 0;
}

static void f_event(sched_api *a, const sched_pod *pod, const char *type, const char *reason,
		    const char *msg)
{
	(void)pod;
	fake_api *f = (fake_api *)a;
	pthread_mutex_lock(&fake_mu);
	f->events++;
	snprintf(f->last_event_type, sizeof(f->last_event_type), "%s", type);
	snprintf(f->last_event_reason, sizeof(f->last_event_reason), "%s", reason);
	snprintf(f->last_event_msg, sizeof(f->last_event_msg), "%s", msg);
	if (strcmp(reason, "Preempted") == 0) {
		snprintf(f->preempted_pod, sizeof(f->preempted_pod), "%s", pod->key);
		snprintf(f->preempted_msg, sizeof(f->preempted_msg), "%s", msg);
	}
	pthread_mutex_unlock(&fake_mu);
}

static int f_delete(sched_api *a, const sched_pod *pod, char *err, size_t len)
{
	(void)err;
	(void)len;
	fake_api *f = (fake_api *)a;
	pthread_mutex_lock(&fake_mu);
	if (f->deletes < 4)
		snprintf(f->deleted[f->deletes], sizeof(f->deleted[0]), "%s", pod->key);
	f->deletes++;
	pthread_mutex_unlock(&fake_mu);
	return 0;
}

static int f_nominate(sched_api *a, const sched_pod *pod, const char *node)
{
	fake_api *f = (fake_api *)a;
	pthread_mutex_lock(&fake_mu);
	snprintf(f->nominated_pod, sizeof(f->nominated_pod), "%s", pod->key);
	snprintf(f->nominated_node, sizeof(f->nominated_node), "%s", node);
	pthread_mutex_unlock(&fake_mu);
	return 0;
}

typedef struct fx {
	kc_fake_clock fc;
	sched_config cfg;
	fake_api api;
	sched_scheduler s;
} fx;

static void fx_init(fx *f)
{
	memset(f, 0, sizeof(*f));
	kc_fake_clock_init(&f->fc, 0, 3);
	sched_config_default(&f->cfg);
	f->api.base.bind = f_bind;
	f->api.base.set_condition = f_cond;
	f->api.base.event = f_event;
	f->api.base.delete_pod = f_delete;
	f->api.base.set_nominated_node = f_nominate;
	ck_assert_int_eq(sched_scheduler_init(&f->s, &f->cfg, &f->api.base, &f->fc.base), 0);
}

static void fx_close(fx *f)
{
	sched_scheduler_close(&f->s);
	kc_fake_clock_close(&f->fc);
}

static void add_node(fx *f, const char *name, const char *mem)
{
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"kubernetes.io/hostname\":\"%s\"}},"
		 "\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"%s\",\"pods\":\"110\"}}}",
		 name, name, mem);
	cJSON *j = fx_json(buf);
	sched_on_node_add(&f->s, j);
	cJSON_Delete(j);
}

static cJSON *pod_json(const char *name, const char *mem, const char *node,
		       const char *scheduler)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\"},"
		 "\"spec\":{\"schedulerName\":\"%s\",\"nodeName\":\"%s\",\"containers\":[{"
		 "\"name\":\"c\",\"image\":\"nginx\",\"resources\":{\"requests\":{\"memory\":\"%s\"}}}]},"
		 "\"status\":{\"phase\":\"Pending\"}}",
		 name, name, scheduler, node, mem);
	return fx_json(buf);
}

static void add_pod(fx *f, const char *name, const char *mem, const char *node)
{
	cJSON *j = pod_json(name, mem, node, "default-scheduler");
	sched_on_pod_add(&f->s, j);
	cJSON_Delete(j);
}

/* The cache's cluster totals let a cycle skip whole-cluster passes; they must follow
 * every change, or an existing pod's anti-affinity would be missed. */
START_TEST(existing_anti_affinity_counts_follow_the_cache)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "4Gi");
	add_node(&f, "node-2", "4Gi");
	ck_assert_int_eq(f.s.cache.anti_pods, 0);
	/* an assigned pod on node-1 that repels app=web pods from its host */
	cJSON *guard = fx_json(
		"{\"metadata\":{\"name\":\"guard\",\"namespace\":\"default\","
		"\"labels\":{\"app\":\"guard\"}},\"spec\":{\"nodeName\":\"node-1\","
		"\"affinity\":{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
		"[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"topologyKey\":\"kubernetes.io/hostname\"}]}}}}");
	sched_on_pod_add(&f.s, guard);
	ck_assert_int_eq(f.s.cache.anti_pods, 1);
	ck_assert_int_eq(f.s.cache.affinity_pods, 1);
	/* web pods (no terms of their own) all avoid node-1 */
	for (int i = 0; i < 4; i++) {
		char buf[256];
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"web-%d\",\"namespace\":\"default\","
			 "\"labels\":{\"app\":\"web\"}},\"spec\":{}}", i);
		cJSON *j = fx_json(buf);
		sched_on_pod_add(&f.s, j);
		cJSON_Delete(j);
		ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
		ck_assert_str_eq(f.api.last_bind_node, "node-2");
	}
	/* the guard's node goes away and comes back: still counted once */
	cJSON *n1 = fx_json("{\"metadata\":{\"name\":\"node-1\"}}");
	sched_on_node_delete(&f.s, n1);
	cJSON_Delete(n1);
	ck_assert_int_eq(f.s.cache.anti_pods, 0);
	add_node(&f, "node-1", "4Gi");
	ck_assert_int_eq(f.s.cache.anti_pods, 1);
	/* the guard deleted: web pods may use node-1 again, and the count is back to 0 */
	sched_on_pod_delete(&f.s, guard);
	cJSON_Delete(guard);
	ck_assert_int_eq(f.s.cache.anti_pods, 0);
	ck_assert_int_eq(f.s.cache.affinity_pods, 0);
	ck_assert_int_eq(f.s.cache.nodes_with_images, 0);
	fx_close(&f);
}
END_TEST

START_TEST(schedules_and_binds)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	add_pod(&f, "web-1", "100Mi", "");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	ck_assert_str_eq(f.api.last_bind_pod, "default/web-1");
	ck_assert_str_eq(f.api.last_bind_node, "node-1");
	ck_assert_str_eq(f.api.last_event_type, "Normal");
	ck_assert_str_eq(f.api.last_event_reason, "Scheduled");
	ck_assert_str_eq(f.api.last_event_msg, "Successfully assigned default/web-1 to node-1");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 0);
	fx_close(&f);
}
END_TEST

START_TEST(assumed_pod_prevents_double_booking)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	add_node(&f, "node-2", "1Gi");
	add_pod(&f, "a", "700Mi", "");
	add_pod(&f, "b", "700Mi", "");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	char first[300];
	snprintf(first, sizeof(first), "%s", f.api.last_bind_node);
	/* the watch has not delivered a's binding yet; b must still go elsewhere */
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 2);
	ck_assert_str_ne(f.api.last_bind_node, first);
	/* a re-delivered unassigned copy of an assumed pod is not queued again */
	add_pod(&f, "a", "700Mi", "");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 0);
	fx_close(&f);
}
END_TEST

START_TEST(unschedulable_explains_and_retries_on_node_add)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	add_pod(&f, "big", "2Gi", "");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 0);
	ck_assert_str_eq(f.api.last_event_type, "Warning");
	ck_assert_str_eq(f.api.last_event_reason, "FailedScheduling");
	ck_assert_str_eq(f.api.last_event_msg,
			 "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes "
			 "are available: 1 Preemption is not helpful for scheduling..");
	ck_assert_str_eq(f.api.last_cond_reason, "Unschedulable");
	ck_assert_str_eq(f.api.last_cond_msg, f.api.last_event_msg);
	ck_assert_int_eq(sched_queue_count(&f.s.queue, SCHED_Q_UNSCHEDULABLE), 1);
	/* nothing changes: nothing to do */
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 0);
	/* a bigger node arrives after the backoff: the pod is retried and bound there */
	kc_fake_clock_advance(&f.fc, 2 * KC_NSEC_PER_SEC);
	add_node(&f, "node-2", "4Gi");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	ck_assert_str_eq(f.api.last_bind_node, "node-2");
	fx_close(&f);
}
END_TEST

START_TEST(assigned_pod_status_update_does_not_retry_label_change_does)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	cJSON *peer = fx_json("{\"metadata\":{\"name\":\"peer\",\"namespace\":\"default\"},"
			    "\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"c\"}]}}");
	sched_on_pod_add(&f.s, peer);
	cJSON *j = fx_json("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{"
			 "\"containers\":[{\"name\":\"c\"}],\"affinity\":{\"podAffinity\":{"
			 "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{"
			 "\"matchLabels\":{\"app\":\"db\"}},\"topologyKey\":"
			 "\"kubernetes.io/hostname\"}]}}}}");
	sched_on_pod_add(&f.s, j);
	cJSON_Delete(j);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 0);
	kc_fake_clock_advance(&f.fc, 2 * KC_NSEC_PER_SEC);
	/* a status-only update of the assigned peer: nothing to retry */
	cJSON *peer2 = kc_json_dup(peer);
	kc_json_set_string(peer2, "status.phase", "Running");
	sched_on_pod_update(&f.s, peer, peer2);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 0);
	/* the peer becomes a db: the affinity now holds */
	cJSON *peer3 = kc_json_dup(peer2);
	kc_json_set_string(peer3, "metadata.labels.app", "db");
	sched_on_pod_update(&f.s, peer2, peer3);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	cJSON_Delete(peer);
	cJSON_Delete(peer2);
	cJSON_Delete(peer3);
	fx_close(&f);
}
END_TEST

START_TEST(node_heartbeat_does_not_retry_but_taint_removal_does)
{
	fx f;
	fx_init(&f);
	cJSON *n1 = fx_json("{\"metadata\":{\"name\":\"node-1\",\"resourceVersion\":\"1\"},"
			  "\"spec\":{\"taints\":[{\"key\":\"k\",\"effect\":\"NoSchedule\"}]},"
			  "\"status\":{\"allocatable\":{\"cpu\":\"4\",\"memory\":\"1Gi\",\"pods\":\"110\"}}}");
	sched_on_node_add(&f.s, n1);
	add_pod(&f, "p", "1Mi", "");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_str_eq(f.api.last_cond_msg, "0/1 nodes are available: 1 node(s) had untolerated "
					      "taint {k: }. preemption: 0/1 nodes are available: 1 "
					      "Preemption is not helpful for scheduling..");
	kc_fake_clock_advance(&f.fc, 2 * KC_NSEC_PER_SEC);
	cJSON *n2 = kc_json_dup(n1);
	kc_json_set_string(n2, "metadata.resourceVersion", "2");
	sched_on_node_update(&f.s, n1, n2);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 0);
	cJSON *n3 = kc_json_dup(n2);
	kc_json_delete(n3, "spec.taints");
	sched_on_node_update(&f.s, n2, n3);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	cJSON_Delete(n1);
	cJSON_Delete(n2);
	cJSON_Delete(n3);
	fx_close(&f);
}
END_TEST

START_TEST(bind_failure_forgets_and_backs_off)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	add_pod(&f, "a", "700Mi", "");
	f.api.fail_binds = 1;
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 0);
	ck_assert_str_eq(f.api.last_event_reason, "FailedScheduling");
	ck_assert_str_eq(f.api.last_cond_reason, "SchedulerError");
	ck_assert_int_eq(sched_queue_count(&f.s.queue, SCHED_Q_BACKOFF), 1);
	int assumed = -1;
	sched_cache_pod_count(&f.s.cache, &assumed);
	ck_assert_int_eq(assumed, 0);
	kc_fake_clock_advance(&f.fc, KC_NSEC_PER_SEC);
	sched_queue_flush(&f.s.queue);
	/* the node's memory was released by the forget: the retry fits */
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	fx_close(&f);
}
END_TEST

START_TEST(assigned_pods_use_capacity_and_delete_moves)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	add_pod(&f, "running", "800Mi", "node-1");
	add_pod(&f, "new", "500Mi", "");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 0);
	ck_assert_int_eq(sched_queue_count(&f.s.queue, SCHED_Q_UNSCHEDULABLE), 1);
	kc_fake_clock_advance(&f.fc, 2 * KC_NSEC_PER_SEC);
	cJSON *j = pod_json("running", "800Mi", "node-1", "default-scheduler");
	sched_on_pod_delete(&f.s, j);
	cJSON_Delete(j);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	fx_close(&f);
}
END_TEST

START_TEST(affinity_pod_waits_for_its_peer)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	add_node(&f, "node-2", "1Gi");
	cJSON *j = fx_json("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{"
			 "\"containers\":[{\"name\":\"c\"}],\"affinity\":{\"podAffinity\":{"
			 "\"requiredDuringSchedulingIgnoredDuringExecution\":[{\"labelSelector\":{"
			 "\"matchLabels\":{\"app\":\"db\"}},\"topologyKey\":"
			 "\"kubernetes.io/hostname\"}]}}}}");
	sched_on_pod_add(&f.s, j);
	cJSON_Delete(j);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 0);
	ck_assert_str_eq(f.api.last_cond_msg,
			 "0/2 nodes are available: 2 node(s) didn't match pod affinity rules. "
			 "preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
			 "scheduling..");
	/* a node update does not help... */
	kc_fake_clock_advance(&f.fc, 2 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 0);
	/* ...the db pod being assigned to node-2 does */
	j = fx_json("{\"metadata\":{\"name\":\"db\",\"namespace\":\"default\",\"labels\":{\"app\":"
		  "\"db\"}},\"spec\":{\"nodeName\":\"node-2\",\"containers\":[{\"name\":\"c\"}]}}");
	sched_on_pod_add(&f.s, j);
	cJSON_Delete(j);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	ck_assert_str_eq(f.api.last_bind_node, "node-2");
	fx_close(&f);
}
END_TEST

START_TEST(binder_threads_bind_everything_once)
{
	fx f;
	fx_init(&f);
	ck_assert_int_eq(sched_scheduler_start_binders(&f.s, 3), 0);
	add_node(&f, "node-1", "1Gi");
	add_node(&f, "node-2", "1Gi");
	char name[16];
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		add_pod(&f, name, "100Mi", "");
	}
	/* the 900Mi pod cannot fit next to 600Mi of assumed pods: they count at once */
	add_pod(&f, "extra", "900Mi", "");
	int handled = 0;
	while (sched_schedule_one(&f.s, 0))
		handled++;
	ck_assert_int_eq(handled, 13);
	ck_assert_int_eq(sched_scheduler_wait_binds(&f.s, 10 * KC_NSEC_PER_SEC), 0);
	pthread_mutex_lock(&fake_mu);
	int binds = f.api.binds;
	pthread_mutex_unlock(&fake_mu);
	ck_assert_int_eq(binds, 12);
	ck_assert_int_eq(sched_queue_count(&f.s.queue, SCHED_Q_UNSCHEDULABLE), 1);
	ck_assert_int_eq(sched_queue_count(&f.s.queue, SCHED_Q_INFLIGHT), 0);
	fx_close(&f);
}
END_TEST

START_TEST(other_scheduler_names_are_ignored)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	cJSON *j = pod_json("x", "1Mi", "", "my-scheduler");
	sched_on_pod_add(&f.s, j);
	cJSON_Delete(j);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 0);
	fx_close(&f);
}
END_TEST

START_TEST(no_nodes_is_an_error)
{
	fx f;
	fx_init(&f);
	add_pod(&f, "a", "1Mi", "");
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_str_eq(f.api.last_event_msg, "no nodes available to schedule pods");
	ck_assert_str_eq(f.api.last_cond_reason, "SchedulerError");
	ck_assert_int_eq(sched_queue_count(&f.s.queue, SCHED_Q_BACKOFF), 1);
	fx_close(&f);
}
END_TEST

START_TEST(metrics_text)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	add_pod(&f, "a", "1Mi", "");
	add_pod(&f, "b", "2Gi", "");
	sched_schedule_one(&f.s, 0);
	sched_schedule_one(&f.s, 0);
	char *m = sched_metrics_text(&f.s);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "scheduler_schedule_attempts_total{profile=\"default-"
					"scheduler\",result=\"scheduled\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "result=\"unschedulable\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "scheduler_pending_pods{queue=\"unschedulable\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "scheduler_scheduling_attempt_duration_seconds_count 2\n"));
	/* only the bound pod has an end-to-end latency */
	ck_assert_ptr_nonnull(strstr(m, "scheduler_pod_scheduling_sli_duration_seconds_count 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "scheduler_pod_scheduling_sli_duration_seconds_bucket{le=\"0.01\"} 1\n"));
	free(m);
	fx_close(&f);
}
END_TEST

static cJSON *prio_pod_json(const char *name, int prio, const char *mem, const char *node)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u-%s\"},"
		 "\"spec\":{\"priority\":%d,\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\","
		 "\"resources\":{\"requests\":{\"memory\":\"%s\"}}}]},\"status\":{\"phase\":"
		 "\"Pending\"}}",
		 name, name, prio, node, mem);
	return fx_json(buf);
}

START_TEST(preemption_deletes_victim_nominates_and_binds_when_gone)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	cJSON *low = prio_pod_json("low", 0, "800Mi", "node-1");
	sched_on_pod_add(&f.s, low);
	cJSON *high = prio_pod_json("high", 100, "500Mi", "");
	sched_on_pod_add(&f.s, high);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	/* upstream prepareCandidate: the victim is deleted with a Preempted event, the
	 * preemptor gets status.nominatedNodeName and stays pending with the plain
	 * FitError (no "preemption:" part when preemption succeeded) */
	ck_assert_int_eq(f.api.binds, 0);
	ck_assert_int_eq(f.api.deletes, 1);
	ck_assert_str_eq(f.api.deleted[0], "default/low");
	ck_assert_str_eq(f.api.preempted_pod, "default/low");
	ck_assert_str_eq(f.api.preempted_msg, "Preempted by pod u-high on node node-1");
	ck_assert_str_eq(f.api.nominated_pod, "default/high");
	ck_assert_str_eq(f.api.nominated_node, "node-1");
	ck_assert_str_eq(f.api.last_cond_msg, "0/1 nodes are available: 1 Insufficient memory.");
	char nom[300];
	sched_scheduler_nominated_node(&f.s, "default/high", nom, sizeof(nom));
	ck_assert_str_eq(nom, "node-1");
	/* a lower-priority newcomer cannot take the room being freed */
	kc_fake_clock_advance(&f.fc, 2 * KC_NSEC_PER_SEC);
	sched_on_pod_delete(&f.s, low);
	cJSON *sneaky = prio_pod_json("sneaky", 0, "600Mi", "");
	sched_on_pod_add(&f.s, sneaky);
	/* the preemptor (higher priority) pops first and binds to its node */
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	ck_assert_str_eq(f.api.last_bind_pod, "default/high");
	ck_assert_str_eq(f.api.last_bind_node, "node-1");
	sched_scheduler_nominated_node(&f.s, "default/high", nom, sizeof(nom));
	ck_assert_str_eq(nom, "");
	/* sneaky does not fit beside it, and is not allowed to preempt a higher pod */
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 1);
	ck_assert_int_eq(f.api.deletes, 1);
	cJSON_Delete(low);
	cJSON_Delete(high);
	cJSON_Delete(sneaky);
	fx_close(&f);
}
END_TEST

START_TEST(nominated_pod_keeps_its_room_from_lower_priority_pods)
{
	fx f;
	fx_init(&f);
	add_node(&f, "node-1", "1Gi");
	cJSON *low = prio_pod_json("low", 0, "800Mi", "node-1");
	sched_on_pod_add(&f.s, low);
	cJSON *high = prio_pod_json("high", 100, "500Mi", "");
	sched_on_pod_add(&f.s, high);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.deletes, 1);
	/* the victim is gone, but a lower-priority pod is tried before the preemptor
	 * comes back from its backoff: the nominated 500Mi stay reserved */
	sched_on_pod_delete(&f.s, low);
	cJSON *sneaky = prio_pod_json("sneaky", 0, "600Mi", "");
	sched_on_pod_add(&f.s, sneaky);
	ck_assert_int_eq(sched_schedule_one(&f.s, 0), 1);
	ck_assert_int_eq(f.api.binds, 0);
	ck_assert_str_eq(f.api.last_cond_msg,
			 "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes "
			 "are available: 1 No preemption victims found for incoming pod..");
	cJSON_Delete(low);
	cJSON_Delete(high);
	cJSON_Delete(sneaky);
	fx_close(&f);
}
END_TEST

static Suite *sched_scheduler_suite(void)
{
	Suite *s = suite_create("sched_scheduler");
	TCase *tc = tcase_create("cycle");
	tcase_add_test(tc, schedules_and_binds);
	tcase_add_test(tc, existing_anti_affinity_counts_follow_the_cache);
	tcase_add_test(tc, assumed_pod_prevents_double_booking);
	tcase_add_test(tc, unschedulable_explains_and_retries_on_node_add);
	tcase_add_test(tc, bind_failure_forgets_and_backs_off);
	tcase_add_test(tc, node_heartbeat_does_not_retry_but_taint_removal_does);
	tcase_add_test(tc, assigned_pods_use_capacity_and_delete_moves);
	tcase_add_test(tc, affinity_pod_waits_for_its_peer);
	tcase_add_test(tc, assigned_pod_status_update_does_not_retry_label_change_does);
	tcase_add_test(tc, binder_threads_bind_everything_once);
	tcase_add_test(tc, other_scheduler_names_are_ignored);
	tcase_add_test(tc, no_nodes_is_an_error);
	tcase_add_test(tc, metrics_text);
	tcase_add_test(tc, preemption_deletes_victim_nominates_and_binds_when_gone);
	tcase_add_test(tc, nominated_pod_keeps_its_room_from_lower_priority_pods);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sched_scheduler_suite)
