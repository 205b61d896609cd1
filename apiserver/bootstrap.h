/* Objects every cluster has from start-up (pkg/controlplane/controller): the default,
 * kube-system, kube-public and kube-node-lease namespaces, and the default/kubernetes
 * Service with its Endpoints and EndpointSlice pointing at this apiserver. */
#ifndef APISERVER_BOOTSTRAP_H
#define APISERVER_BOOTSTRAP_H

#include "registry.h"

/* advertise: the address clients reach this apiserver at; port its secure port.
 * Returns 0, or the first error (logged). */
int boot_system_objects(reg *r, const char *advertise, int port);
/* Writes the default/kubernetes Endpoints and EndpointSlice with these n addresses (in
 * this order) and port, unless the stored Endpoints already say exactly that. */
int boot_kubernetes_endpoints(reg *r, const char *const *ips, size_t n, int port);
/* The first non-loopback IPv4 address of this host into buf, or "127.0.0.1". */
void boot_default_address(char *buf, size_t n);

#endif
