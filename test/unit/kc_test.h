/* Shared glue for the Check unit suites: each test/unit/test_<x>.c defines
 * `Suite *x_suite(void)` and ends with KC_TEST_MAIN(x_suite). */
#ifndef KC_TEST_H
#define KC_TEST_H

#include <check.h>
#include <stdlib.h>

#define KC_TEST_MAIN(suite_fn)                                            \
	int main(void)                                                    \
	{                                                                 \
		SRunner *sr = srunner_create(suite_fn());                 \
		srunner_run_all(sr, CK_ENV);                              \
		int failed = srunner_ntests_failed(sr);                   \
		srunner_free(sr);                                         \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;              \
	}

#endif
