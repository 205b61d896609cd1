/* Injectable time and randomness.
 *
 * Logic that must be tested deterministically (leases, backoff, leader election, Raft)
 * takes a kc_clock_t * instead of calling clock_gettime()/random() directly. The real
 * clock is kc_clock_real(); tests use kc_fake_clock, which moves only when told. */
#ifndef KC_CLOCK_H
#define KC_CLOCK_H

#include <stdint.h>
#include <pthread.h>

typedef struct kc_clock kc_clock_t;

struct kc_clock {
	/* Monotonic time in nanoseconds (for durations and deadlines). */
	int64_t (*mono_ns)(kc_clock_t *c);
	/* Wall-clock time in nanoseconds since the Unix epoch (for timestamps). */
	int64_t (*wall_ns)(kc_clock_t *c);
	/* Uniform random 64 bits. */
	uint64_t (*rand64)(kc_clock_t *c);
	/* Sleep for ns of this clock's time, or until kc_clock_wake; the fake clock
	 * returns when a test advances it past the deadline. */
	void (*sleep_ns)(kc_clock_t *c, int64_t ns);
};

/* The process-wide real clock (CLOCK_MONOTONIC, CLOCK_REALTIME, getrandom). */
kc_clock_t *kc_clock_real(void);

static inline int64_t kc_now_mono(kc_clock_t *c) { return c->mono_ns(c); }
static inline int64_t kc_now_wall(kc_clock_t *c) { return c->wall_ns(c); }
static inline uint64_t kc_rand64(kc_clock_t *c) { return c->rand64(c); }

/* Uniform random double in [0, 1). */
double kc_rand_unit(kc_clock_t *c);

/* A fake clock for tests: time advances only with kc_fake_clock_advance; randomness
 * is a seeded xorshift so runs repeat. Caller allocates; init before use. */
typedef struct kc_fake_clock {
	kc_clock_t base;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t mono, wall;
	uint64_t seed;
} kc_fake_clock;

void kc_fake_clock_init(kc_fake_clock *fc, int64_t wall_ns, uint64_t seed);
void kc_fake_clock_advance(kc_fake_clock *fc, int64_t ns);
void kc_fake_clock_close(kc_fake_clock *fc);

#define KC_NSEC_PER_MSEC INT64_C(1000000)
#define KC_NSEC_PER_SEC INT64_C(1000000000)

#endif
