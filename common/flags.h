/* Command-line flags in the style of spf13/pflag, as every Kubernetes daemon uses them.
 *
 * A daemon declares a table of kc_flag pointing at its own variables; the variables'
 * initial values are the defaults (shown by --help). Accepted forms:
 *   --name=value   --name value   -n value   -n=value   -nvalue
 *   --bool  --bool=true|false  (a bare bool never consumes the next argument; values as
 *                               Go's strconv.ParseBool: 1 t T TRUE true True 0 f F ...)
 *   -abc           (a run of single-letter bool shorthands)
 *   --             (everything after is positional)
 * Positional arguments may be interspersed with flags (pflag's default).
 * Built in to every flag set: -v/--v=N sets kc_log_set_verbosity(N) (klog's -v), and
 * -h/--help prints the usage to stdout and makes kc_flags_parse return KC_FLAGS_HELP
 * (the daemon then exits 0).
 *
 * Errors are pflag's texts: "unknown flag: --foo", "unknown shorthand flag: 'x' in -x",
 * "flag needs an argument: --foo", "flag needs an argument: 'p' in -p",
 * "invalid argument \"abc\" for \"--port\" flag: strconv.ParseInt: parsing \"abc\":
 * invalid syntax", "bad flag syntax: ---x".
 */
#ifndef KC_FLAGS_H
#define KC_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum kc_flag_type {
	KC_FLAG_BOOL,     /* bool *                                              */
	KC_FLAG_STRING,   /* const char **: set to point into argv (not copied)  */
	KC_FLAG_INT,      /* int *     (Go strconv.ParseInt base 0: 10, 0x1f, 0o7) */
	KC_FLAG_INT64,    /* int64_t * */
	KC_FLAG_DURATION, /* int64_t * nanoseconds, Go syntax "1m30s"            */
	KC_FLAG_STRINGS,  /* kc_strlist *: comma separated, repeatable           */
	KC_FLAG_FLOAT,    /* double *  */
};

/* A string list flag's variable. A static default may point at string literals with
 * owned = false; the first occurrence on the command line replaces the default, later
 * ones append (pflag's StringSlice). Parsed items are heap copies (owned = true); free
 * them with kc_strlist_free. */
typedef struct kc_strlist {
	char **items;
	size_t n;
	bool owned;
} kc_strlist;

void kc_strlist_free(kc_strlist *l);
/* Split s at commas and append each piece (copied) to l, making l owned. 0 or -ENOMEM. */
int kc_strlist_append_csv(kc_strlist *l, const char *s);

typedef struct kc_flag {
	const char *name;      /* long name without "--"; NULL ends the table */
	char shorthand;        /* single letter or 0 */
	enum kc_flag_type type;
	void *ptr;             /* the variable (see kc_flag_type); borrowed */
	const char *usage;     /* help text; a `backquoted` word names the value in --help */
} kc_flag;

typedef struct kc_flagset {
	const char *prog;    /* program name printed in "Usage of <prog>:" */
	const char *summary; /* optional paragraph printed before the flags */
	const kc_flag *flags;
} kc_flagset;

#define KC_FLAGS_HELP 1

/* Parse argv[1..argc). fs and its table are borrowed; argv is permuted so the
 * positional arguments end up in argv[1..1+*nargs) in their original order (nargs
 * may be NULL). Returns 0, KC_FLAGS_HELP after printing the usage for -h/--help, or
 * -EINVAL with the error in err (errlen bytes, may be 0). Flag values are written to
 * the variables as they are parsed; on error some may already be set. Also -ENOMEM.
 * Call once per flag set: defaults shown by --help are the values at call time. */
int kc_flags_parse(const kc_flagset *fs, int argc, char **argv, int *nargs, char *err,
		   size_t errlen);

/* Print pflag-style usage ("Usage of prog:" and one aligned line per flag, sorted by
 * name, with "(default ...)" for non-zero defaults) to out, using the variables'
 * current values as defaults. */
void kc_flags_usage(const kc_flagset *fs, FILE *out);

/* Go's time.ParseDuration: "300ms", "-1.5h", "2h45m", "1µs", "0"; units ns, us (µs,
 * μs), ms, s, m, h. Returns 0 and *ns, or -EINVAL with Go's message in err, e.g.
 * `time: invalid duration "x"`, `time: missing unit in duration "1"`,
 * `time: unknown unit "d" in duration "1d"`. For config files as well as flags. */
int kc_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen);
/* Go's Duration.String: "1h30m0s", "1m30s", "500ms", "1.5µs", "0s". Returns the
 * length (snprintf semantics); 32 bytes always suffice. */
int kc_format_duration(int64_t ns, char *buf, size_t buflen);

#endif
