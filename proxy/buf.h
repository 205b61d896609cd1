/* A growable byte buffer for building iptables-restore input and reading tool output.
 *
 * Appends never fail silently: the first allocation failure sets `oom`, later appends are
 * ignored, and px_buf_status() reports -ENOMEM, so a builder can append freely and check
 * once at the end. Caller allocates the struct; px_buf_init / px_buf_close. */
#ifndef PX_BUF_H
#define PX_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct px_buf {
	char *data; /* always NUL-terminated once anything was appended */
	size_t len, cap;
	int oom;
} px_buf;

void px_buf_init(px_buf *b);
void px_buf_close(px_buf *b);
/* Forget the contents, keep the allocation. */
void px_buf_reset(px_buf *b);
/* Append len bytes of s (borrowed). */
void px_buf_add(px_buf *b, const char *s, size_t len);
void px_buf_puts(px_buf *b, const char *s);
void px_buf_printf(px_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or -ENOMEM if any append failed since init/reset. */
int px_buf_status(const px_buf *b);
/* The contents as a C string ("" when empty); borrowed from b. */
const char *px_buf_str(const px_buf *b);

#endif
