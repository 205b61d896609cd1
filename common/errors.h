/* kubec error codes.
 *
 * Every function in libkubec returns int: 0 (or a non-negative count) on success,
 * a negative value on failure: either -errno (-ENOMEM, -EINVAL, -ETIMEDOUT, ...) or one of
 * the KC_E* codes below, which name conditions the API itself defines. kc_strerror()
 * turns either kind into text. There is no global "last error". */
#ifndef KC_ERRORS_H
#define KC_ERRORS_H

#include <errno.h>

enum {
	KC_EBASE = 10000,
	KC_ENOTFOUND = -(KC_EBASE + 1),  /* 404 NotFound */
	KC_EEXIST = -(KC_EBASE + 2),     /* 409 AlreadyExists */
	KC_ECONFLICT = -(KC_EBASE + 3),  /* 409 Conflict (resourceVersion mismatch) */
	KC_EGONE = -(KC_EBASE + 4),      /* 410 Gone / Expired (compacted resourceVersion) */
	KC_EINVALID = -(KC_EBASE + 5),   /* 422 Invalid */
	KC_EPARSE = -(KC_EBASE + 6),     /* malformed input (JSON, YAML, selector, quantity) */
	KC_ETOOLARGE = -(KC_EBASE + 7),  /* 413 request entity too large */
	KC_EUNAUTH = -(KC_EBASE + 8),    /* 401 Unauthorized */
	KC_EFORBIDDEN = -(KC_EBASE + 9), /* 403 Forbidden */
	KC_ESERVER = -(KC_EBASE + 10),   /* 5xx from a server */
	KC_EHTTP = -(KC_EBASE + 11),     /* other unexpected HTTP status */
	KC_ECLOSED = -(KC_EBASE + 12),   /* object was shut down / stream ended */
	KC_ETIMEOUT = -(KC_EBASE + 13),  /* 504 / deadline exceeded */
};

/* Text for a negative kubec or errno code; never NULL; static storage. */
const char *kc_strerror(int err);

#endif
