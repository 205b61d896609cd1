/* The lease endpoint reconciler (upstream's --endpoint-reconciler-type=lease, the default;
 * pkg/controlplane/reconcilers/lease.go): every apiserver keeps a key
 * <prefix>/masterleases/<its IP> alive under a 15 s store lease, renewed every 10 s, and
 * writes the default/kubernetes Endpoints and EndpointSlice with the sorted IPs of every
 * live key, so a cluster of several apiservers lists them all and a dead one drops out
 * within the TTL. On shutdown the apiserver deletes its own key and reconciles once more
 * (upstream's RemoveEndpoints), so clients of kubernetes.default stop being sent to it. */
#ifndef APISERVER_ENDPOINT_RECONCILER_H
#define APISERVER_ENDPOINT_RECONCILER_H

#include "etcd.h"
#include "registry.h"

/* upstream's DefaultEndpointReconcilerTTL and DefaultEndpointReconcilerInterval */
#define EPR_LEASE_TTL_S 15
#define EPR_INTERVAL_S 10

typedef struct epr epr;

/* Starts the reconciler thread; the first reconcile runs before this returns (errors are
 * logged and retried on the next interval). r and etcd are borrowed and must outlive the
 * reconciler; prefix (the storage prefix, e.g. "/registry") and ip are copied. */
int epr_start(reg *r, kc_etcd *etcd, const char *prefix, const char *ip, int port, epr **out);
/* Stops the thread, removes this apiserver's lease key and rewrites the endpoints without
 * it; frees e (NULL is a no-op). */
void epr_stop(epr *e);

/* The sorted, de-duplicated IPs under <prefix>/masterleases/ (exposed for tests). *ips is
 * a heap array of heap strings; free with epr_ips_free. */
int epr_list_ips(kc_etcd *etcd, const char *prefix, char ***ips, size_t *n);
void epr_ips_free(char **ips, size_t n);

#endif
