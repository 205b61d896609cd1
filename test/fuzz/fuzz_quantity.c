/* Fuzz resource.Quantity parsing: whatever parses must print canonically, re-parse to
 * an equal value, and print identically again; arithmetic must not crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	kc_quantity q, r;
	char err[KC_QUANTITY_ERRLEN];
	if (kc_quantity_parse(s, &q, err, sizeof(err)) == 0) {
		char p1[KC_QUANTITY_STRMAX], p2[KC_QUANTITY_STRMAX];
		if (kc_quantity_string(&q, p1, sizeof(p1)) < 0)
			abort();
		if (kc_quantity_parse(p1, &r, err, sizeof(err)) != 0) {
			fprintf(stderr, "'%s' printed '%s' which fails: %s\n", s, p1, err);
			abort();
		}
		if (kc_quantity_cmp(&q, &r) != 0) {
			fprintf(stderr, "'%s' printed '%s' which differs\n", s, p1);
			abort();
		}
		/* The text may change once: a binary value that is not a multiple of 1024
		 * prints without suffix ("62.5Ki" -> "64000") and reads back as decimal SI
		 * ("64k"), exactly as upstream. From then on it must be a fixed point. */
		kc_quantity r2;
		char p3[KC_QUANTITY_STRMAX];
		if (kc_quantity_string(&r, p2, sizeof(p2)) < 0 ||
		    kc_quantity_parse(p2, &r2, err, sizeof(err)) != 0 ||
		    kc_quantity_cmp(&r2, &q) != 0 || kc_quantity_string(&r2, p3, sizeof(p3)) < 0 ||
		    strcmp(p2, p3) != 0) {
			fprintf(stderr, "'%s' printed '%s' then '%s'\n", s, p1, p2);
			abort();
		}
		if (q.format != KC_QUANTITY_BINARY_SI && strcmp(p1, p2) != 0) {
			fprintf(stderr, "'%s' printed '%s' then '%s'\n", s, p1, p2);
			abort();
		}
		(void)kc_quantity_value(&q);
		(void)kc_quantity_milli_value(&q);
		kc_quantity t = q;
		if (kc_quantity_add(&t, &r) == 0 && kc_quantity_sub(&t, &r) == 0 &&
		    kc_quantity_cmp(&t, &q) != 0)
			abort();
		t = q;
		if (kc_quantity_mul(&t, 3) == 0 && kc_quantity_sign(&t) != kc_quantity_sign(&q))
			abort();
		if (kc_quantity_string(&t, p3, sizeof(p3)) < 0)
			abort();
	} else if (err[0] == '\0') {
		abort(); /* every failure explains itself */
	}
	free(s);
	return 0;
}
