/* YAML request bodies (application/yaml, application/apply-patch+yaml) to JSON, as
 * upstream's sigs.k8s.io/yaml (go-yaml v2 underneath): one document; plain scalars resolve
 * to null (~, null, empty), booleans (true/false/yes/no/on/off in any of YAML 1.1's
 * spellings), integers and floats; quoted scalars stay strings; mapping keys must be
 * scalars. Aliases are refused (no billion-laughs expansion). */
#ifndef APISERVER_YAMLJSON_H
#define APISERVER_YAMLJSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* Parses len bytes of buf (borrowed). 0 and *out (caller frees), or KC_EPARSE with a
 * message in err (line and column as libyaml reports them). */
int yj_parse(const char *buf, size_t len, cJSON **out, char *err, size_t errlen);

#endif
