#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int px_run(const char *const argv[], const char *in, size_t inlen, px_buf *out, px_buf *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 ||
	    pipe2(perr, O_CLOEXEC) < 0) {
		int e = -errno;
		for (int i = 0; i < 2; i++) {
			if (pin[i] >= 0)
				close(pin[i]);
			if (pout[i] >= 0)
				close(pout[i]);
			if (perr[i] >= 0)
				close(perr[i]);
		}
		return e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (rc != 0) {
		close(pin[1]);
		close(pout[0]);
		close(perr[0]);
		return -rc;
	}
	/* A child that exits early must not kill us with SIGPIPE; writes then fail with
	 * EPIPE, which just ends the feeding. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);

	size_t off = 0;
	int wfd = pin[1];
	if (!in || inlen == 0) {
		close(wfd);
		wfd = -1;
	} else {
		fcntl(wfd, F_SETFL, O_NONBLOCK);
	}
	int ofd = pout[0], efd = perr[0];
	char chunk[16384];
	while (wfd >= 0 || ofd >= 0 || efd >= 0) {
		struct pollfd fds[3];
		int nf = 0, iw = -1, io = -1, ie = -1;
		if (wfd >= 0) {
			iw = nf;
			fds[nf++] = (struct pollfd){ .fd = wfd, .events = POLLOUT };
		}
		if (ofd >= 0) {
			io = nf;
			fds[nf++] = (struct pollfd){ .fd = ofd, .events = POLLIN };
		}
		if (efd >= 0) {
			ie = nf;
			fds[nf++] = (struct pollfd){ .fd = efd, .events = POLLIN };
		}
		if (poll(fds, (nfds_t)nf, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (iw >= 0 && fds[iw].revents) {
			ssize_t n = write(wfd, in + off, inlen - off);
			if (n > 0)
				off += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || off >= inlen) {
				close(wfd);
				wfd = -1;
			}
		}
		if (io >= 0 && fds[io].revents) {
			ssize_t n = read(ofd, chunk, sizeof(chunk));
			if (n > 0) {
				if (out)
					px_buf_add(out, chunk, (size_t)n);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(ofd);
				ofd = -1;
			}
		}
		if (ie >= 0 && fds[ie].revents) {
			ssize_t n = read(efd, chunk, sizeof(chunk));
			if (n > 0) {
				if (err)
					px_buf_add(err, chunk, (size_t)n);
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(efd);
				efd = -1;
			}
		}
	}
	if (wfd >= 0)
		close(wfd);
	if (ofd >= 0)
		close(ofd);
	if (efd >= 0)
		close(efd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* Swallow a SIGPIPE raised by our own writes before unblocking. */
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&block, NULL, &zero) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}
