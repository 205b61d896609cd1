/* sd_notify(3) by hand; see sdnotify.h. Mirrors systemd's sd_pid_notify_with_fds()
 * (src/libsystemd/sd-daemon/sd-daemon.c) for the address rules and error values. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "sdnotify.h"

/* Fill *sa from a $NOTIFY_SOCKET value; returns the address length or -errno. As
 * systemd's sockaddr_un_set_path: a filesystem path needs room for its NUL terminator and
 * is passed with it; an abstract name ('@' turned into the leading NUL) is passed without
 * one, so it may use all of sun_path. */
static int notify_addr(const char *addr, struct sockaddr_un *sa)
{
	size_t n = strlen(addr);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (addr[0] == '/') {
		if (n > sizeof(sa->sun_path) - 1)
			return -EINVAL;
		memcpy(sa->sun_path, addr, n + 1);
		return (int)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	if (addr[0] == '@') {
		if (n < 2 || n > sizeof(sa->sun_path))
			return -EINVAL;
		sa->sun_path[0] = '\0';
		memcpy(sa->sun_path + 1, addr + 1, n - 1);
		return (int)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	/* "vsock:CID:PORT" (systemd >= 253) and anything else. */
	if (strchr(addr, ':'))
		return -EAFNOSUPPORT;
	return -EINVAL;
}

static int send_state(const char *addr, const char *state)
{
	struct sockaddr_un sa;
	int len = notify_addr(addr, &sa);
	if (len < 0)
		return len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct iovec iov = { .iov_base = (void *)state, .iov_len = strlen(state) };
	struct msghdr mh = {
		.msg_name = &sa,
		.msg_namelen = (socklen_t)len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	/* MSG_NOSIGNAL: a vanished receiver must not kill the daemon with SIGPIPE. */
	ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
	int rc = 0;
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != iov.iov_len)
		rc = -EIO; /* a datagram is sent whole or not at all; never expected */
	close(fd);
	return rc;
}

int kc_sd_notify_to(const char *socket_addr, const char *state)
{
	if (!state)
		return -EINVAL;
	if (!socket_addr || !*socket_addr)
		return 0;
	int rc = send_state(socket_addr, state);
	if (rc < 0) {
		/* Only the first line: a state may carry several assignments. */
		int first = (int)strcspn(state, "\n");
		kc_warn("sd_notify: cannot send %.*s to %s: %s", first, state, socket_addr,
			kc_strerror(rc));
	} else {
		kc_log_v(4, "sd_notify: sent %.*s", (int)strcspn(state, "\n"), state);
	}
	return rc;
}

int kc_sd_notify(const char *state)
{
	return kc_sd_notify_to(getenv("NOTIFY_SOCKET"), state);
}

int kc_sd_notifyf(const char *fmt, ...)
{
	if (!fmt)
		return -EINVAL;
	const char *addr = getenv("NOTIFY_SOCKET");
	if (!addr || !*addr)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	int rc = kc_sd_notify_to(addr, s);
	free(s);
	return rc;
}
