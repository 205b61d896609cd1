#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void px_buf_init(px_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void px_buf_close(px_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void px_buf_reset(px_buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(px_buf *b, size_t need)
{
	if (b->oom)
		return -1;
	if (b->len + need + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + need + 1) {
		if (cap > ((size_t)-1) / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (!p) {
		b->oom = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void px_buf_add(px_buf *b, const char *s, size_t len)
{
	if (grow(b, len) < 0)
		return;
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void px_buf_puts(px_buf *b, const char *s)
{
	px_buf_add(b, s, strlen(s));
}

void px_buf_printf(px_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[512];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		px_buf_add(b, small, (size_t)n);
		return;
	}
	if (grow(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int px_buf_status(const px_buf *b)
{
	return b->oom ? -ENOMEM : 0;
}

const char *px_buf_str(const px_buf *b)
{
	return b->data ? b->data : "";
}
