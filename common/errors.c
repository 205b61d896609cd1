#include <string.h>

#include "errors.h"

const char *kc_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case KC_ENOTFOUND: return "not found";
	case KC_EEXIST: return "already exists";
	case KC_ECONFLICT: return "conflict";
	case KC_EGONE: return "gone (resource version too old)";
	case KC_EINVALID: return "invalid";
	case KC_EPARSE: return "parse error";
	case KC_ETOOLARGE: return "too large";
	case KC_EUNAUTH: return "unauthorized";
	case KC_EFORBIDDEN: return "forbidden";
	case KC_ESERVER: return "server error";
	case KC_EHTTP: return "unexpected HTTP status";
	case KC_ECLOSED: return "closed";
	case KC_ETIMEOUT: return "timed out";
	}
	if (err < 0 && err > -KC_EBASE)
		return strerror(-err);
	return "unknown error";
}
