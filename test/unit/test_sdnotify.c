/* sd_notify protocol: the test plays systemd's side, binding the AF_UNIX datagram socket
 * that $NOTIFY_SOCKET names (a path in a temp dir, or an abstract name) and checking the
 * exact datagrams kc_sd_notify sends. */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kc_test.h"
#include "sdnotify.h"

/* The receiving end: a bound datagram socket and the $NOTIFY_SOCKET value naming it. */
typedef struct {
	int fd;
	char addr[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
	char dir[64];
} listener;

static void listener_bind(listener *l, const char *addr)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	socklen_t len;
	size_t n = strlen(addr);
	if (addr[0] == '@') {
		ck_assert_uint_le(n, sizeof(sa.sun_path));
		memcpy(sa.sun_path + 1, addr + 1, n - 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		ck_assert_uint_lt(n, sizeof(sa.sun_path));
		memcpy(sa.sun_path, addr, n + 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l->fd, 0);
	ck_assert_msg(bind(l->fd, (struct sockaddr *)&sa, len) == 0, "bind %s: %s", addr,
		      strerror(errno));
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
}

/* A socket file in a fresh temp dir. */
static void listener_path(listener *l)
{
	snprintf(l->dir, sizeof(l->dir), "/tmp/kc-sdnotify.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(l->dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/notify", l->dir);
	listener_bind(l, path);
}

/* A unique abstract name padded with 'x' to total length n (including the '@'). */
static void listener_abstract(listener *l, size_t n)
{
	char name[sizeof(l->addr)];
	int k = snprintf(name, sizeof(name), "@kubec-sdnotify-test-%d-%p", (int)getpid(),
			 (void *)l);
	ck_assert_uint_le((size_t)k, n);
	ck_assert_uint_lt(n, sizeof(name));
	memset(name + k, 'x', n - (size_t)k);
	name[n] = '\0';
	l->dir[0] = '\0';
	listener_bind(l, name);
}

static void listener_close(listener *l)
{
	close(l->fd);
	if (l->dir[0]) {
		char path[128];
		snprintf(path, sizeof(path), "%s/notify", l->dir);
		unlink(path);
		rmdir(l->dir);
	}
}

/* Receive one datagram within 5 s into buf (NUL-terminated); returns its length or -1. */
static ssize_t recv_one(listener *l, char *buf, size_t cap)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		return -1;
	ssize_t n = recv(l->fd, buf, cap - 1, MSG_DONTWAIT);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Nothing queued right now. The sender's sendmsg on a local datagram socket has queued
 * the datagram before it returns, so an empty queue means nothing was sent. */
static int queue_empty(listener *l)
{
	char c;
	ssize_t n = recv(l->fd, &c, 1, MSG_DONTWAIT);
	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

START_TEST(path_socket_gets_exact_datagrams_in_order)
{
	listener l;
	listener_path(&l);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", l.addr, 1), 0);
	ck_assert_int_eq(kc_sd_notify("READY=1"), 0);
	ck_assert_int_eq(kc_sd_notifyf("STATUS=Serving on %s:%d", "127.0.0.1", 6443), 0);
	ck_assert_int_eq(kc_sd_notify("STOPPING=1"), 0);
	char buf[512];
	ck_assert_int_eq(recv_one(&l, buf, sizeof(buf)), 7);
	ck_assert_str_eq(buf, "READY=1");
	ck_assert_int_ge(recv_one(&l, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "STATUS=Serving on 127.0.0.1:6443");
	ck_assert_int_eq(recv_one(&l, buf, sizeof(buf)), 10);
	ck_assert_str_eq(buf, "STOPPING=1");
	ck_assert(queue_empty(&l));
	/* The variable stays for later notifications. */
	ck_assert_ptr_nonnull(getenv("NOTIFY_SOCKET"));
	ck_assert_str_eq(getenv("NOTIFY_SOCKET"), l.addr);
	unsetenv("NOTIFY_SOCKET");
	listener_close(&l);
}
END_TEST

START_TEST(multi_line_state_is_one_datagram)
{
	listener l;
	listener_path(&l);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", l.addr, 1), 0);
	ck_assert_int_eq(kc_sd_notify("READY=1\nSTATUS=ready"), 0);
	char buf[512];
	ck_assert_int_eq(recv_one(&l, buf, sizeof(buf)), 20);
	ck_assert_str_eq(buf, "READY=1\nSTATUS=ready");
	ck_assert(queue_empty(&l));
	unsetenv("NOTIFY_SOCKET");
	listener_close(&l);
}
END_TEST

START_TEST(abstract_socket_gets_exact_datagram)
{
	listener l;
	listener_abstract(&l, 48);
	ck_assert_int_eq(l.addr[0], '@');
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", l.addr, 1), 0);
	ck_assert_int_eq(kc_sd_notify("READY=1"), 0);
	ck_assert_int_eq(kc_sd_notify("STOPPING=1"), 0);
	char buf[512];
	ck_assert_int_eq(recv_one(&l, buf, sizeof(buf)), 7);
	ck_assert_str_eq(buf, "READY=1");
	ck_assert_int_eq(recv_one(&l, buf, sizeof(buf)), 10);
	ck_assert_str_eq(buf, "STOPPING=1");
	unsetenv("NOTIFY_SOCKET");
	listener_close(&l);
}
END_TEST

/* An abstract name may fill sun_path completely (it carries no terminator). */
START_TEST(abstract_name_of_full_sun_path_length_works)
{
	listener l;
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	listener_abstract(&l, max);
	ck_assert_uint_eq(strlen(l.addr), max);
	ck_assert_int_eq(kc_sd_notify_to(l.addr, "READY=1"), 0);
	char buf[64];
	ck_assert_int_eq(recv_one(&l, buf, sizeof(buf)), 7);
	ck_assert_str_eq(buf, "READY=1");
	listener_close(&l);
}
END_TEST

START_TEST(unset_or_empty_variable_is_a_noop)
{
	listener l;
	listener_path(&l);
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(kc_sd_notify("READY=1"), 0);
	ck_assert_int_eq(kc_sd_notifyf("STATUS=%d", 1), 0);
	ck_assert(queue_empty(&l));
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", "", 1), 0);
	ck_assert_int_eq(kc_sd_notify("READY=1"), 0);
	ck_assert(queue_empty(&l));
	/* The same socket does receive once the variable names it: the no-op is real. */
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", l.addr, 1), 0);
	ck_assert_int_eq(kc_sd_notify("READY=1"), 0);
	char buf[64];
	ck_assert_int_eq(recv_one(&l, buf, sizeof(buf)), 7);
	unsetenv("NOTIFY_SOCKET");
	listener_close(&l);
}
END_TEST

START_TEST(too_long_addresses_are_einval)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	char p[256];
	/* A path needs room for its NUL: strlen == sizeof(sun_path) does not fit. */
	memset(p, 'a', sizeof(p));
	p[0] = '/';
	p[max] = '\0';
	ck_assert_int_eq(kc_sd_notify_to(p, "READY=1"), -EINVAL);
	memset(p, 'a', sizeof(p));
	p[0] = '/';
	p[200] = '\0';
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", p, 1), 0);
	ck_assert_int_eq(kc_sd_notify("READY=1"), -EINVAL);
	ck_assert_int_eq(kc_sd_notifyf("STATUS=%s", "x"), -EINVAL);
	/* An abstract name one byte longer than sun_path. */
	memset(p, 'b', sizeof(p));
	p[0] = '@';
	p[max + 1] = '\0';
	ck_assert_int_eq(kc_sd_notify_to(p, "READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(bad_addresses_and_missing_receivers_are_errors)
{
	ck_assert_int_eq(kc_sd_notify_to("relative/notify", "READY=1"), -EINVAL);
	ck_assert_int_eq(kc_sd_notify_to("@", "READY=1"), -EINVAL);
	ck_assert_int_eq(kc_sd_notify_to("vsock:2:1234", "READY=1"), -EAFNOSUPPORT);
	ck_assert_int_eq(kc_sd_notify_to("/nonexistent-kubec-dir/notify", "READY=1"), -ENOENT);
	ck_assert_int_eq(kc_sd_notify_to("/tmp/x", NULL), -EINVAL);
	/* A socket file whose receiver closed: refused, and no SIGPIPE kills the test. */
	listener l;
	listener_path(&l);
	close(l.fd);
	l.fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_eq(kc_sd_notify_to(l.addr, "STOPPING=1"), -ECONNREFUSED);
	listener_close(&l);
	/* An abstract name nobody bound. */
	char name[96];
	snprintf(name, sizeof(name), "@kubec-sdnotify-nobody-%d", (int)getpid());
	ck_assert_int_eq(kc_sd_notify_to(name, "READY=1"), -ECONNREFUSED);
}
END_TEST

static Suite *sdnotify_suite(void)
{
	Suite *s = suite_create("sdnotify");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, path_socket_gets_exact_datagrams_in_order);
	tcase_add_test(tc, multi_line_state_is_one_datagram);
	tcase_add_test(tc, abstract_socket_gets_exact_datagram);
	tcase_add_test(tc, abstract_name_of_full_sun_path_length_works);
	tcase_add_test(tc, unset_or_empty_variable_is_a_noop);
	tcase_add_test(tc, too_long_addresses_are_einval);
	tcase_add_test(tc, bad_addresses_and_missing_receivers_are_errors);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sdnotify_suite)
