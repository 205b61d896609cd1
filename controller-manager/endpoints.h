/* The Endpoints controller (upstream pkg/controller/endpoint/endpoints_controller.go).
 *
 * For every Service with a non-empty selector it keeps the core/v1 Endpoints object of
 * the same name: one subset per distinct resolved port list, pods that are Ready (or all
 * of them with spec.publishNotReadyAddresses) in `addresses`, the others in
 * `notReadyAddresses`; each address carries ip, nodeName, targetRef and hostname (when
 * the pod's subdomain is the Service's name). Ports are resolved per pod as
 * podutil.FindPort (number, or a named container port of the same protocol); a port that
 * does not resolve is skipped for that pod. A headless Service (clusterIP None) without
 * ports lists its pods with no ports. Terminating pods are left out unless
 * publishNotReadyAddresses (ShouldPodBeInEndpoints(pod, includeTerminating)).
 * Labels: the Service's plus service.kubernetes.io/headless for headless Services.
 * Annotation endpoints.kubernetes.io/last-change-trigger-time: the latest change seen on
 * the Service and its pods (creation, Ready transition, deletion), written only when
 * the Endpoints content changes, as upstream's trigger-time tracker.
 * A Service without selector (the `kubernetes` Service among them) is left alone, so
 * the apiserver (or the user) owns its Endpoints. A deleted Service's Endpoints are
 * deleted.
 * Not done: the over-capacity truncation at 1000 addresses (annotation
 * endpoints.kubernetes.io/over-capacity), IPv6 families. */
#ifndef CM_ENDPOINTS_H
#define CM_ENDPOINTS_H

#include "controller.h"

#define EP_TRIGGER_TIME_ANNOTATION "endpoints.kubernetes.io/last-change-trigger-time"
#define EP_HEADLESS_LABEL "service.kubernetes.io/headless"

typedef struct ep_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
} ep_controller;

/* lister and api borrowed, must outlive ec. */
int ep_controller_init(ep_controller *ec, cm_lister *lister, cm_api *api);
/* cm_sync_fn; key is the Service's "ns/name" */
int ep_sync(void *arg, const char *key);
/* Register on the services, pods and endpoints informers. */
int ep_controller_register(ep_controller *ec, cm_informers *f);

#endif
