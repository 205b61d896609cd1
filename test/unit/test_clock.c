#include <pthread.h>
#include <time.h>

#include "clock.h"
#include "errors.h"
#include "kc_test.h"

START_TEST(fake_clock_moves_only_when_advanced)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, 1700000000 * KC_NSEC_PER_SEC, 42);
	int64_t m0 = kc_now_mono(&fc.base), w0 = kc_now_wall(&fc.base);
	ck_assert_int_eq(kc_now_mono(&fc.base), m0);
	kc_fake_clock_advance(&fc, 5 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(kc_now_mono(&fc.base) - m0, 5 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(kc_now_wall(&fc.base) - w0, 5 * KC_NSEC_PER_SEC);
	kc_fake_clock_close(&fc);
}
END_TEST

START_TEST(fake_clock_random_repeats_per_seed)
{
	kc_fake_clock a, b;
	kc_fake_clock_init(&a, 0, 7);
	kc_fake_clock_init(&b, 0, 7);
	for (int i = 0; i < 100; i++) {
		uint64_t x = kc_rand64(&a.base);
		ck_assert_uint_eq(x, kc_rand64(&b.base));
		double u = kc_rand_unit(&a.base);
		kc_rand_unit(&b.base);
		ck_assert(u >= 0.0 && u < 1.0);
	}
	kc_fake_clock_close(&a);
	kc_fake_clock_close(&b);
}
END_TEST

static void *sleeper(void *arg)
{
	kc_fake_clock *fc = arg;
	fc->base.sleep_ns(&fc->base, 10 * KC_NSEC_PER_SEC);
	return NULL;
}

START_TEST(fake_sleep_returns_after_advance)
{
	kc_fake_clock fc;
	pthread_t t;
	kc_fake_clock_init(&fc, 0, 1);
	pthread_create(&t, NULL, sleeper, &fc);
	/* The sleeper may start late; keep advancing until it returns. */
	int steps = 0;
	while (pthread_tryjoin_np(t, NULL) != 0) {
		kc_fake_clock_advance(&fc, KC_NSEC_PER_SEC);
		steps++;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	ck_assert_int_ge(steps, 10);
	kc_fake_clock_close(&fc);
}
END_TEST

START_TEST(real_clock_is_monotonic)
{
	kc_clock_t *c = kc_clock_real();
	int64_t a = kc_now_mono(c);
	int64_t b = kc_now_mono(c);
	ck_assert(b >= a);
	ck_assert(kc_now_wall(c) > INT64_C(1600000000) * KC_NSEC_PER_SEC);
	ck_assert_uint_ne(kc_rand64(c), kc_rand64(c));
}
END_TEST

START_TEST(strerror_names_codes)
{
	ck_assert_str_eq(kc_strerror(KC_ECONFLICT), "conflict");
	ck_assert_str_eq(kc_strerror(-ENOMEM), "Cannot allocate memory");
	ck_assert_str_eq(kc_strerror(-99999), "unknown error");
}
END_TEST

static Suite *clock_suite(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, fake_clock_moves_only_when_advanced);
	tcase_add_test(tc, fake_clock_random_repeats_per_seed);
	tcase_add_test(tc, fake_sleep_returns_after_advance);
	tcase_add_test(tc, real_clock_is_monotonic);
	tcase_add_test(tc, strerror_names_codes);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(clock_suite)
