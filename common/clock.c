#include <errno.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"

static int64_t ts_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * KC_NSEC_PER_SEC + ts.tv_nsec;
}

static int64_t real_mono(kc_clock_t *c) { (void)c; return ts_ns(CLOCK_MONOTONIC); }
static int64_t real_wall(kc_clock_t *c) { (void)c; return ts_ns(CLOCK_REALTIME); }

static uint64_t real_rand(kc_clock_t *c)
{
	uint64_t v = 0;
	(void)c;
	while (getrandom(&v, sizeof(v), 0) < 0 && errno == EINTR)
		;
	return v;
}

static void real_sleep(kc_clock_t *c, int64_t ns)
{
	struct timespec ts = { ns / KC_NSEC_PER_SEC, ns % KC_NSEC_PER_SEC };
	(void)c;
	if (ns <= 0)
		return;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static kc_clock_t real_clock = { real_mono, real_wall, real_rand, real_sleep };

kc_clock_t *kc_clock_real(void) { return &real_clock; }

double kc_rand_unit(kc_clock_t *c)
{
	return (double)(kc_rand64(c) >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t fake_mono(kc_clock_t *c)
{
	kc_fake_clock *fc = (kc_fake_clock *)c;
	pthread_mutex_lock(&fc->mu);
	int64_t v = fc->mono;
	pthread_mutex_unlock(&fc->mu);
	return v;
}

static int64_t fake_wall(kc_clock_t *c)
{
	kc_fake_clock *fc = (kc_fake_clock *)c;
	pthread_mutex_lock(&fc->mu);
	int64_t v = fc->wall;
	pthread_mutex_unlock(&fc->mu);
	return v;
}

static uint64_t fake_rand(kc_clock_t *c)
{
	kc_fake_clock *fc = (kc_fake_clock *)c;
	pthread_mutex_lock(&fc->mu);
	/* xorshift64* */
	uint64_t x = fc->seed;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	fc->seed = x;
	pthread_mutex_unlock(&fc->mu);
	return x * UINT64_C(2685821657736338717);
}

static void fake_sleep(kc_clock_t *c, int64_t ns)
{
	kc_fake_clock *fc = (kc_fake_clock *)c;
	pthread_mutex_lock(&fc->mu);
	int64_t until = fc->mono + ns;
	while (fc->mono < until)
		pthread_cond_wait(&fc->cv, &fc->mu);
	pthread_mutex_unlock(&fc->mu);
}

void kc_fake_clock_init(kc_fake_clock *fc, int64_t wall_ns, uint64_t seed)
{
	fc->base = (kc_clock_t){ fake_mono, fake_wall, fake_rand, fake_sleep };
	pthread_mutex_init(&fc->mu, NULL);
	pthread_cond_init(&fc->cv, NULL);
	fc->mono = KC_NSEC_PER_SEC; /* nonzero so "0 = unset" never collides */
	fc->wall = wall_ns;
	fc->seed = seed ? seed : 0x9E3779B97F4A7C15ull;
}

void kc_fake_clock_advance(kc_fake_clock *fc, int64_t ns)
{
	pthread_mutex_lock(&fc->mu);
	fc->mono += ns;
	fc->wall += ns;
	pthread_cond_broadcast(&fc->cv);
	pthread_mutex_unlock(&fc->mu);
}

void kc_fake_clock_close(kc_fake_clock *fc)
{
	pthread_cond_destroy(&fc->cv);
	pthread_mutex_destroy(&fc->mu);
}
