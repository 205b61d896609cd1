/* The fake CRI runtime (fake://) through the ordinary typed client: what the pod workers
 * see of sandboxes, containers, images and errors on a hollow node. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kubelet/cri_client.h"
#include "../../kubelet/cri_fake.h"
#include "errors.h"
#include "kc_test.h"

static cri_client cl;

static void setup(void)
{
	ck_assert_int_eq(cri_client_init(&cl, "fake://", 0), 0);
	ck_assert(cri_client_is_fake(&cl));
}

static void teardown(void)
{
	cri_client_close(&cl);
}

typedef struct sb_cfg {
	Runtime__V1__PodSandboxConfig c;
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__PodSandboxConfig__LabelsEntry e;
	Runtime__V1__PodSandboxConfig__LabelsEntry *ep;
} sb_cfg;

static void sandbox_cfg(sb_cfg *s, const char *name, const char *uid)
{
	Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__PodSandboxConfig__LabelsEntry e = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
	s->c = c;
	s->md = md;
	s->e = e;
	s->md.name = (char *)name;
	s->md.namespace_ = "default";
	s->md.uid = (char *)uid;
	s->c.metadata = &s->md;
	s->e.key = "io.kubernetes.pod.uid";
	s->e.value = (char *)uid;
	s->ep = &s->e;
	s->c.labels = &s->ep;
	s->c.n_labels = 1;
}

static char *run_sandbox(const char *name, const char *uid)
{
	sb_cfg s;
	sandbox_cfg(&s, name, uid);
	char *id = NULL;
	ck_assert_int_eq(cri_run_pod_sandbox(&cl, &s.c, NULL, &id, NULL), 0);
	ck_assert_uint_eq(strlen(id), 64);
	return id;
}

static char *sandbox_ip(const char *id)
{
	Runtime__V1__PodSandboxStatusResponse *r = NULL;
	ck_assert_int_eq(cri_pod_sandbox_status(&cl, id, 0, &r, NULL), 0);
	ck_assert_ptr_nonnull(r->status->network);
	char *ip = strdup(r->status->network->ip);
	cri_msg_free(r);
	return ip;
}

static char *create_container(const char *sid, const char *name)
{
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec is = RUNTIME__V1__IMAGE_SPEC__INIT;
	md.name = (char *)name;
	is.image = "busybox:1.35";
	cc.metadata = &md;
	cc.image = &is;
	char *id = NULL;
	ck_assert_int_eq(cri_create_container(&cl, sid, &cc, NULL, &id, NULL), 0);
	return id;
}

static int container_state(const char *id)
{
	Runtime__V1__ContainerStatusResponse *r = NULL;
	int rc = cri_container_status(&cl, id, 0, &r, NULL);
	if (rc < 0)
		return rc;
	int s = r->status->state;
	cri_msg_free(r);
	return s;
}

START_TEST(version_and_status_as_upstream_fake)
{
	Runtime__V1__VersionResponse *v = NULL;
	ck_assert_int_eq(cri_version(&cl, &v, NULL), 0);
	ck_assert_str_eq(v->runtime_name, "fakeRuntime");
	ck_assert_str_eq(v->runtime_version, "0.1.0");
	cri_msg_free(v);
	Runtime__V1__StatusResponse *s = NULL;
	ck_assert_int_eq(cri_status(&cl, 0, &s, NULL), 0);
	ck_assert_uint_eq(s->status->n_conditions, 2);
	ck_assert(s->status->conditions[0]->status && s->status->conditions[1]->status);
	cri_msg_free(s);
}
END_TEST

START_TEST(sandboxes_get_distinct_ips_from_the_cidr)
{
	ck_assert_int_eq(cri_fake_set_pod_cidr(cl.fake, "10.9.8.0/24"), 0);
	char *a = run_sandbox("a", "uid-a"), *b = run_sandbox("b", "uid-b");
	char *ia = sandbox_ip(a), *ib = sandbox_ip(b);
	ck_assert_str_eq(ia, "10.9.8.2");
	ck_assert_str_eq(ib, "10.9.8.3");
	/* a released IP is reused once its sandbox is gone */
	ck_assert_int_eq(cri_stop_pod_sandbox(&cl, a, NULL), 0);
	ck_assert_int_eq(cri_remove_pod_sandbox(&cl, a, NULL), 0);
	ck_assert_int_eq(cri_fake_set_pod_cidr(cl.fake, "10.9.8.0/24"), 0);
	char *c = run_sandbox("c", "uid-c");
	char *ic = sandbox_ip(c);
	ck_assert_str_eq(ic, "10.9.8.2");
	free(a), free(b), free(c), free(ia), free(ib), free(ic);
	ck_assert_int_eq(cri_fake_set_pod_cidr(cl.fake, "10.0.0.0/33"), -EINVAL);
	ck_assert_int_eq(cri_fake_set_pod_cidr(cl.fake, "banana/24"), -EINVAL);
}
END_TEST

START_TEST(a_full_cidr_refuses_sandboxes)
{
	ck_assert_int_eq(cri_fake_set_pod_cidr(cl.fake, "192.168.5.0/30"), 0); /* hosts .2 only */
	char *a = run_sandbox("a", "u1");
	sb_cfg s;
	sandbox_cfg(&s, "b", "u2");
	char *id = NULL;
	cri_grpc_status st;
	ck_assert_int_lt(cri_run_pod_sandbox(&cl, &s.c, NULL, &id, &st), 0);
	ck_assert_int_eq(st.code, CRI_GRPC_RESOURCE_EXHAUSTED);
	ck_assert_ptr_nonnull(strstr(st.message, "no IP addresses available"));
	free(a);
}
END_TEST

START_TEST(containers_run_until_stopped)
{
	char *sid = run_sandbox("web", "uid-w");
	char *cid = create_container(sid, "app");
	ck_assert_int_eq(container_state(cid), RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED);
	ck_assert_int_eq(cri_start_container(&cl, cid, NULL), 0);
	ck_assert_int_eq(container_state(cid), RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
	/* exec probes pass */
	const char *cmd[] = { "cat", "/tmp/healthy" };
	Runtime__V1__ExecSyncResponse *x = NULL;
	ck_assert_int_eq(cri_exec_sync(&cl, cid, cmd, 2, 1, &x, NULL), 0);
	ck_assert_int_eq(x->exit_code, 0);
	cri_msg_free(x);
	/* listed with its labels' filter and state */
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	f.pod_sandbox_id = sid;
	Runtime__V1__ListContainersResponse *lc = NULL;
	ck_assert_int_eq(cri_list_containers(&cl, &f, &lc, NULL), 0);
	ck_assert_uint_eq(lc->n_containers, 1);
	ck_assert_str_eq(lc->containers[0]->metadata->name, "app");
	cri_msg_free(lc);
	ck_assert_int_eq(cri_stop_container(&cl, cid, 30, NULL), 0);
	Runtime__V1__ContainerStatusResponse *r = NULL;
	ck_assert_int_eq(cri_container_status(&cl, cid, 0, &r, NULL), 0);
	ck_assert_int_eq(r->status->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
	ck_assert_int_eq(r->status->exit_code, 0);
	ck_assert(r->status->finished_at >= r->status->started_at);
	cri_msg_free(r);
	/* exec into an exited container fails */
	ck_assert_int_lt(cri_exec_sync(&cl, cid, cmd, 2, 1, &x, NULL), 0);
	ck_assert_int_eq(cri_remove_container(&cl, cid, NULL), 0);
	cri_grpc_status st;
	ck_assert_int_eq(cri_container_status(&cl, cid, 0, &r, &st), KC_ENOTFOUND);
	ck_assert_int_eq(st.code, CRI_GRPC_NOT_FOUND);
	free(sid);
	free(cid);
}
END_TEST

START_TEST(stopping_and_removing_a_sandbox_takes_its_containers)
{
	char *sid = run_sandbox("web", "uid-x");
	char *keep = run_sandbox("other", "uid-y");
	char *cid = create_container(sid, "app");
	ck_assert_int_eq(cri_start_container(&cl, cid, NULL), 0);
	ck_assert_int_eq(cri_stop_pod_sandbox(&cl, sid, NULL), 0);
	ck_assert_int_eq(container_state(cid), RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
	/* a stopped sandbox takes no new containers */
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec is = RUNTIME__V1__IMAGE_SPEC__INIT;
	md.name = "late";
	is.image = "x";
	cc.metadata = &md;
	cc.image = &is;
	char *id = NULL;
	ck_assert_int_lt(cri_create_container(&cl, sid, &cc, NULL, &id, NULL), 0);
	/* label selector + state filter as the pod worker's adopt() asks */
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry e = RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	e.key = "io.kubernetes.pod.uid";
	e.value = "uid-x";
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry *ep = &e;
	Runtime__V1__PodSandboxStateValue ready = RUNTIME__V1__POD_SANDBOX_STATE_VALUE__INIT;
	Runtime__V1__PodSandboxFilter f = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	f.label_selector = &ep;
	f.n_label_selector = 1;
	Runtime__V1__ListPodSandboxResponse *r = NULL;
	ck_assert_int_eq(cri_list_pod_sandbox(&cl, &f, &r, NULL), 0);
	ck_assert_uint_eq(r->n_items, 1);
	ck_assert_str_eq(r->items[0]->id, sid);
	ck_assert_int_eq(r->items[0]->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY);
	cri_msg_free(r);
	f.state = &ready; /* SANDBOX_READY */
	ck_assert_int_eq(cri_list_pod_sandbox(&cl, &f, &r, NULL), 0);
	ck_assert_uint_eq(r->n_items, 0);
	cri_msg_free(r);
	ck_assert_int_eq(cri_remove_pod_sandbox(&cl, sid, NULL), 0);
	int ns = -1, nc = -1;
	cri_fake_counts(cl.fake, &ns, &nc);
	ck_assert_int_eq(ns, 1);
	ck_assert_int_eq(nc, 0);
	/* removing again is not an error; its status is NotFound */
	ck_assert_int_eq(cri_remove_pod_sandbox(&cl, sid, NULL), 0);
	Runtime__V1__PodSandboxStatusResponse *ss = NULL;
	ck_assert_int_eq(cri_pod_sandbox_status(&cl, sid, 0, &ss, NULL), KC_ENOTFOUND);
	free(sid);
	free(keep);
	free(cid);
}
END_TEST

START_TEST(every_image_is_present)
{
	Runtime__V1__ImageStatusResponse *r = NULL;
	ck_assert_int_eq(cri_image_status(&cl, "registry.example/never/pulled:7", 0, &r, NULL), 0);
	ck_assert_ptr_nonnull(r->image);
	ck_assert(!strncmp(r->image->id, "sha256:", 7));
	char id1[128];
	snprintf(id1, sizeof(id1), "%s", r->image->id);
	cri_msg_free(r);
	char *ref = NULL;
	ck_assert_int_eq(cri_pull_image(&cl, "registry.example/never/pulled:7", NULL, NULL, &ref, NULL), 0);
	ck_assert_str_eq(ref, id1);
	free(ref);
	Runtime__V1__ListImagesResponse *l = NULL;
	ck_assert_int_eq(cri_list_images(&cl, NULL, &l, NULL), 0);
	ck_assert_uint_eq(l->n_images, 1);
	ck_assert_str_eq(l->images[0]->repo_tags[0], "registry.example/never/pulled:7");
	cri_msg_free(l);
}
END_TEST

START_TEST(unknown_ids_and_bad_input_are_errors)
{
	cri_grpc_status st;
	ck_assert_int_eq(cri_start_container(&cl, "nope", &st), KC_ENOTFOUND);
	ck_assert_int_eq(cri_stop_pod_sandbox(&cl, "nope", &st), KC_ENOTFOUND);
	sb_cfg s;
	sandbox_cfg(&s, "", "uid");
	char *id = NULL;
	ck_assert_int_lt(cri_run_pod_sandbox(&cl, &s.c, NULL, &id, &st), 0);
	ck_assert_int_eq(st.code, CRI_GRPC_INVALID_ARGUMENT);
	/* a method the fake does not serve */
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	ck_assert_int_lt(cri_unary(&cl, "/runtime.v1.RuntimeService/Attach", &req.base,
				   &runtime__v1__version_response__descriptor, 1000, &m, &st), 0);
	ck_assert_int_eq(st.code, CRI_GRPC_UNIMPLEMENTED);
	cri_fake *f = NULL;
	ck_assert_int_eq(cri_fake_new("1.2.3.4", &f), -EINVAL);
}
END_TEST

static Suite *kubelet_fake_suite(void)
{
	Suite *s = suite_create("kubelet_fake");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, version_and_status_as_upstream_fake);
	tcase_add_test(tc, sandboxes_get_distinct_ips_from_the_cidr);
	tcase_add_test(tc, a_full_cidr_refuses_sandboxes);
	tcase_add_test(tc, containers_run_until_stopped);
	tcase_add_test(tc, stopping_and_removing_a_sandbox_takes_its_containers);
	tcase_add_test(tc, every_image_is_present);
	tcase_add_test(tc, unknown_ids_and_bad_input_are_errors);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kubelet_fake_suite)
