/* meta.k8s.io/v1 Table rendering for `kubectl get` (server-side printing,
 * staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go + the printers). */
#ifndef APISERVER_TABLE_H
#define APISERVER_TABLE_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "resource.h"

/* Does the Accept header ask for a Table (as=Table;g=meta.k8s.io)? */
int tbl_wanted(const char *accept);

enum tbl_include { TBL_INCLUDE_METADATA = 0, TBL_INCLUDE_OBJECT = 1, TBL_INCLUDE_NONE = 2 };
/* includeObject query value -> enum (default Metadata). */
enum tbl_include tbl_include_parse(const char *v);

/* A Table of the given objects (borrowed; an array or a single object). columns: 0 to emit
 * "columnDefinitions": null (watch events after the first). rv may be NULL. now_sec is the
 * wall clock for AGE cells. continue_tok may be NULL. */
cJSON *tbl_render(const res_desc *d, const cJSON *objs, enum tbl_include inc, int columns,
		  const char *rv, const char *continue_tok, int64_t now_sec);

#endif
