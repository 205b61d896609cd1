/* Fuzz the label and field selector parsers: whatever parses must print in a form
 * that parses again and prints identically, and must match the same labels/objects.
 * The same bytes are also tried as a LabelSelector JSON object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fields.h"
#include "labels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char LABELS[] = "{\"app\":\"web\",\"tier\":\"db\",\"x\":\"\",\"n\":\"5\"}";
static const char OBJ[] = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
			  "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}}";

static void check_labels(const char *s, const cJSON *labels)
{
	kc_label_selector a, b;
	char err[KC_SELECTOR_ERRLEN];
	if (kc_selector_parse(s, &a, err, sizeof(err)) != 0) {
		kc_selector_close(&a);
		return;
	}
	char *p1 = kc_selector_string(&a);
	if (!p1)
		abort();
	if (kc_selector_parse(p1, &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "label selector '%s' printed '%s' which fails: %s\n", s, p1, err);
		abort();
	}
	char *p2 = kc_selector_string(&b);
	if (!p2 || strcmp(p1, p2) != 0) {
		fprintf(stderr, "label selector '%s' printed '%s' then '%s'\n", s, p1, p2);
		abort();
	}
	if (kc_selector_matches(&a, labels) != kc_selector_matches(&b, labels))
		abort();
	free(p1);
	free(p2);
	kc_selector_close(&a);
	kc_selector_close(&b);
}

static void check_fields(const char *s, const cJSON *obj)
{
	kc_field_selector a, b;
	char err[KC_FIELDS_ERRLEN];
	if (kc_fields_parse(s, &a, err, sizeof(err)) != 0) {
		kc_fields_close(&a);
		return;
	}
	char *p1 = kc_fields_string(&a);
	if (!p1)
		abort();
	if (kc_fields_parse(p1, &b, err, sizeof(err)) != 0) {
		fprintf(stderr, "field selector '%s' printed '%s' which fails: %s\n", s, p1, err);
		abort();
	}
	char *p2 = kc_fields_string(&b);
	if (!p2 || strcmp(p1, p2) != 0) {
		fprintf(stderr, "field selector '%s' printed '%s' then '%s'\n", s, p1, p2);
		abort();
	}
	const char *kinds[] = { "Pod", "Event", "Node", NULL };
	for (int i = 0; i < 4; i++)
		if (kc_fields_matches(&a, kinds[i], obj, err, sizeof(err)) !=
		    kc_fields_matches(&b, kinds[i], obj, err, sizeof(err)))
			abort();
	free(p1);
	free(p2);
	kc_fields_close(&a);
	kc_fields_close(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cJSON *labels, *obj;
	if (!labels) {
		labels = cJSON_Parse(LABELS);
		obj = cJSON_Parse(OBJ);
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0'; /* C strings: everything after a NUL is ignored, as upstream's lexer */
	check_labels(s, labels);
	check_fields(s, obj);

	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	if (j) {
		kc_label_selector sel;
		char err[KC_SELECTOR_ERRLEN];
		if (kc_selector_from_json(j, &sel, err, sizeof(err)) == 0) {
			(void)kc_selector_matches(&sel, labels);
			char *p = kc_selector_string(&sel);
			/* a valid object selector prints a parseable string (except Nothing) */
			if (p && !sel.nothing) {
				kc_label_selector b;
				if (kc_selector_parse(p, &b, err, sizeof(err)) != 0) {
					fprintf(stderr, "object selector printed '%s': %s\n", p, err);
					abort();
				}
				kc_selector_close(&b);
			}
			free(p);
		}
		kc_selector_close(&sel);
		if (kc_selector_from_node_selector_requirements(j, &sel, err, sizeof(err)) == 0) {
			char *p = kc_selector_string(&sel);
			if (p && !sel.nothing) {
				kc_label_selector b;
				if (kc_selector_parse(p, &b, err, sizeof(err)) != 0) {
					fprintf(stderr, "node selector printed '%s': %s\n", p, err);
					abort();
				}
				kc_selector_close(&b);
			}
			free(p);
		}
		kc_selector_close(&sel);
		if (kc_selector_from_set(j, &sel, err, sizeof(err)) == 0)
			(void)kc_selector_matches_object(&sel, j);
		kc_selector_close(&sel);
		cJSON_Delete(j);
	}
	free(s);
	return 0;
}
