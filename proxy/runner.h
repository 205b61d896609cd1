/* The sync loop: informers on Services and EndpointSlices feed a dirty flag; one thread
 * runs px_proxier_sync when it is due (upstream's BoundedFrequencyRunner): the first
 * sync once both informers have listed, then after every change but no more often than
 * minSyncPeriod, and at least every syncPeriod (those periodic syncs are `full`: they
 * re-ensure the jump rules). Event handlers only set the flag; iptables runs on the
 * loop thread, never on an informer thread. */
#ifndef PX_RUNNER_H
#define PX_RUNNER_H

#include "client.h"
#include "proxier.h"

typedef struct px_runner px_runner;

/* c and p are borrowed and must outlive the runner. 0, -ENOMEM or an informer error. */
int px_runner_start(kc_client *c, px_proxier *p, int64_t sync_period_ns,
		    int64_t min_sync_period_ns, px_runner **out);
/* Stop the informers and the loop thread, free. NULL is fine. */
void px_runner_stop(px_runner *r);

#endif
