/* The pod Table row as upstream's printPod (pkg/printers/internalversion/printers.go):
 * READY, STATUS (init containers as Init:N/M / Init:<reason> / Init:ExitCode:N, waiting and
 * terminated reasons, Signal:N / ExitCode:N, Completed pods with a running container back
 * to Running/NotReady, Terminating, Unknown for a deleted NodeLost pod, SchedulingGated),
 * RESTARTS with "(Xs ago)" from the latest lastState.terminated.finishedAt (restartable
 * init containers, i.e. sidecars, counted once the pod is initialised), AGE, and the wide
 * columns IP, NODE, NOMINATED NODE, READINESS GATES. */
#ifndef APISERVER_POD_PRINT_H
#define APISERVER_POD_PRINT_H

#include <stdint.h>
#include <cjson/cJSON.h>

/* Appends the 9 cells of pod (borrowed) to cells, ages relative to now_sec. */
void pod_print_row(const cJSON *pod, cJSON *cells, int64_t now_sec);

#endif
