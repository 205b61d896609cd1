/* Controller expectations, as upstream's controller_utils.go ControllerExpectations:
 * per controller key, how many creations and deletions the last sync started and has
 * not yet seen in the informer cache. A key whose expectations are neither fulfilled
 * nor older than 5 minutes (ExpectationsTimeout) is not acted on again. */
#include "controller.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

typedef struct exp_entry {
	char *key;
	int adds, dels;
	int64_t stamp;
	struct exp_entry *next;
} exp_entry;

struct cm_expectations {
	pthread_mutex_t mu;
	kc_clock_t *clock;
	exp_entry *head;
};

int cm_expectations_new(kc_clock_t *clock, cm_expectations **out)
{
	cm_expectations *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->mu, NULL);
	e->clock = clock ? clock : kc_clock_real();
	*out = e;
	return 0;
}

void cm_expectations_free(cm_expectations *e)
{
	if (!e)
		return;
	for (exp_entry *x = e->head, *n; x; x = n) {
		n = x->next;
		free(x->key);
		free(x);
	}
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static exp_entry **find(cm_expectations *e, const char *key)
{
	exp_entry **p = &e->head;
	while (*p && strcmp((*p)->key, key))
		p = &(*p)->next;
	return p;
}

int cm_expectations_expect(cm_expectations *e, const char *key, int adds, int dels)
{
	pthread_mutex_lock(&e->mu);
	exp_entry **p = find(e, key);
	if (!*p) {
		exp_entry *x = calloc(1, sizeof(*x));
		if (!x || !(x->key = strdup(key))) {
			free(x);
			pthread_mutex_unlock(&e->mu);
			return -ENOMEM;
		}
		*p = x;
	}
	(*p)->adds = adds;
	(*p)->dels = dels;
	(*p)->stamp = kc_now_mono(e->clock);
	pthread_mutex_unlock(&e->mu);
	return 0;
}

void cm_expectations_lower(cm_expectations *e, const char *key, int adds, int dels)
{
	pthread_mutex_lock(&e->mu);
	exp_entry *x = *find(e, key);
	if (x) {
		x->adds -= adds;
		x->dels -= dels;
	}
	pthread_mutex_unlock(&e->mu);
}

void cm_expectations_creation_observed(cm_expectations *e, const char *key)
{
	cm_expectations_lower(e, key, 1, 0);
}

void cm_expectations_deletion_observed(cm_expectations *e, const char *key)
{
	cm_expectations_lower(e, key, 0, 1);
}

bool cm_expectations_satisfied(cm_expectations *e, const char *key)
{
	pthread_mutex_lock(&e->mu);
	exp_entry *x = *find(e, key);
	bool ok = !x || (x->adds <= 0 && x->dels <= 0) ||
		  kc_now_mono(e->clock) - x->stamp > CM_EXPECTATIONS_TTL_NS;
	pthread_mutex_unlock(&e->mu);
	return ok;
}

void cm_expectations_delete(cm_expectations *e, const char *key)
{
	pthread_mutex_lock(&e->mu);
	exp_entry **p = find(e, key);
	if (*p) {
		exp_entry *x = *p;
		*p = x->next;
		free(x->key);
		free(x);
	}
	pthread_mutex_unlock(&e->mu);
}
