/* Running the iptables tools: one child process, stdin fed from memory, stdout and
 * stderr captured, no shell (arguments are passed as an argv vector, never parsed). */
#ifndef PX_EXEC_H
#define PX_EXEC_H

#include <stddef.h>

#include "buf.h"

/* Run argv[0] (looked up in PATH) with argv (NULL-terminated; borrowed). in/inlen is
 * written to its stdin (in may be NULL). out and err (may be NULL) receive stdout and
 * stderr (appended). Returns the exit status (0..255), 128+signal if it was killed, or
 * a negative errno when it could not be run (-ENOENT: not installed). */
int px_run(const char *const argv[], const char *in, size_t inlen, px_buf *out, px_buf *err);

#endif
