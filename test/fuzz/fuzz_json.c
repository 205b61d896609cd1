/* libFuzzer harness for common/json.c: arbitrary bytes must never crash the parser,
 * and anything it accepts must survive print -> re-parse -> equal, in both the
 * insertion-order and the canonical (sorted) printers, with the printed text stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "meta.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const cJSON *j, char *(*printer)(const cJSON *))
{
	char *text = printer(j);
	if (!text)
		return; /* ENOMEM only */
	cJSON *back = NULL;
	char err[KC_JSON_ERRLEN];
	if (kc_json_parse(text, strlen(text), SIZE_MAX, &back, err, sizeof(err)) != 0)
		__builtin_trap(); /* our own output must parse */
	if (!kc_json_equal(j, back) || !kc_json_equal(back, j))
		__builtin_trap();
	char *again = printer(back);
	if (!again || strcmp(text, again) != 0)
		__builtin_trap(); /* printing is a fixed point */
	free(again);
	free(text);
	cJSON_Delete(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *j = NULL;
	char err[KC_JSON_ERRLEN];
	int rc = kc_json_parse((const char *)data, size, 1 << 20, &j, err, sizeof(err));
	if (rc != 0) {
		if (j || err[0] == '\0')
			__builtin_trap(); /* failures must say why and return nothing */
		return 0;
	}
	roundtrip(j, kc_json_print);
	roundtrip(j, kc_json_print_canonical);
	char *pretty = kc_json_print_pretty(j);
	cJSON *back = NULL;
	if (pretty && (kc_json_parse_str(pretty, &back, NULL, 0) != 0 || !kc_json_equal(j, back)))
		__builtin_trap();
	free(pretty);
	cJSON_Delete(back);

	cJSON *dup = kc_json_dup(j);
	if (dup && !kc_json_equal(j, dup))
		__builtin_trap();
	cJSON_Delete(dup);

	/* Every member of an object is reachable through its escaped key as a path. */
	const cJSON *m, *obj = cJSON_IsObject(j) ? j : NULL;
	cJSON_ArrayForEach(m, obj)
	{
		char path[2 * KC_JSON_PATH_SEGCAP];
		size_t klen = strlen(m->string);
		if (klen == 0 || klen >= KC_JSON_PATH_SEGCAP)
			continue;
		kc_json_path_escape(m->string, path, sizeof(path));
		if (kc_json_get(j, path) != m)
			__builtin_trap();
	}

	/* The metadata and validation helpers read untrusted objects too. */
	kc_verrs e;
	kc_verrs_init(&e);
	kc_validate_labels(kc_meta_labels(j), &e);
	kc_validate_annotations(kc_meta_annotations(j), &e);
	kc_validate_dns1123_subdomain(kc_meta_name(j), &e);
	kc_meta_controller_ref(j);
	kc_meta_has_finalizer(j, "kubernetes");
	int64_t ns;
	kc_meta_get_creation_time(j, &ns);
	kc_json_get_int64(j, "metadata.generation", 0);
	cJSON_Delete(j);
	return 0;
}
