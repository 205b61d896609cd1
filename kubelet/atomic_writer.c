/* Atomic payload writer; see atomic_writer.h. */
#include "atomic_writer.h"

/* paths are bounded by PATH_MAX; a longer one is cut and then fails to open */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DATA_DIR "..data"
#define DATA_TMP "..data_tmp"

int aw_payload_add(aw_payload *p, const char *path, const char *data, size_t len, int mode)
{
	for (size_t i = 0; i < p->n; i++) {
		if (!strcmp(p->f[i].path, path)) {
			char *d = malloc(len + 1);
			if (!d)
				return -ENOMEM;
			memcpy(d, data, len);
			d[len] = 0;
			free(p->f[i].data);
			p->f[i].data = d;
			p->f[i].len = len;
			p->f[i].mode = mode;
			return 0;
		}
	}
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 8;
		aw_file *nf = realloc(p->f, nc * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		p->f = nf;
		p->cap = nc;
	}
	aw_file *f = &p->f[p->n];
	f->path = strdup(path);
	f->data = malloc(len + 1);
	if (!f->path || !f->data) {
		free(f->path);
		free(f->data);
		return -ENOMEM;
	}
	memcpy(f->data, data, len);
	f->data[len] = 0;
	f->len = len;
	f->mode = mode;
	p->n++;
	return 0;
}

void aw_payload_close(aw_payload *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->f[i].path);
		free(p->f[i].data);
	}
	free(p->f);
	memset(p, 0, sizeof(*p));
}

int aw_validate_path(const char *path, char *err, size_t errlen)
{
	if (!path || !path[0]) {
		snprintf(err, errlen, "invalid path: must not be empty: %s", path ? path : "");
		return -EINVAL;
	}
	if (strlen(path) > 4096) {
		snprintf(err, errlen, "invalid path: must be less than or equal to 4096 characters");
		return -EINVAL;
	}
	if (path[0] == '/') {
		snprintf(err, errlen, "invalid path: must be relative path: %s", path);
		return -EINVAL;
	}
	if (!strncmp(path, "..", 2)) {
		snprintf(err, errlen, "invalid path: must not start with '..': %s", path);
		return -EINVAL;
	}
	/* no ".." element anywhere */
	for (const char *s = path; *s;) {
		const char *e = strchr(s, '/');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l == 2 && !strncmp(s, "..", 2)) {
			snprintf(err, errlen, "invalid path: must not contain '..': %s", path);
			return -EINVAL;
		}
		s += l;
		if (*s == '/')
			s++;
	}
	return 0;
}

/* the first path element of path into buf */
static void top_of(const char *path, char *buf, size_t len)
{
	const char *e = strchr(path, '/');
	size_t l = e ? (size_t)(e - path) : strlen(path);
	if (l >= len)
		l = len - 1;
	memcpy(buf, path, l);
	buf[l] = 0;
}

/* 1 when dir/old_ts/<f.path> holds f (same bytes, same mode) */
static int same_file(const char *tsdir, const aw_file *f)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", tsdir, f->path);
	struct stat st;
	if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != f->len ||
	    (int)(st.st_mode & 07777) != (f->mode & 07777))
		return 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[8192];
	size_t off = 0;
	int same = 1;
	while (same && off < f->len) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0) {
			same = 0;
			break;
		}
		if (off + (size_t)r > f->len || memcmp(buf, f->data + off, (size_t)r))
			same = 0;
		off += (size_t)r;
	}
	close(fd);
	return same && off == f->len;
}

/* number of regular files below d (recursively) */
static int count_files(const char *d)
{
	DIR *dir = opendir(d);
	if (!dir)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			n += count_files(p);
		else
			n++;
	}
	closedir(dir);
	return n;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

void aw_remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static int mkdir_parents(const char *root, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	char *slash = strrchr(p, '/');
	if (!slash)
		return 0;
	*slash = 0;
	size_t rl = strlen(root);
	for (char *s = p + rl + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (strlen(p) > rl && mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_file(const char *root, const aw_file *f)
{
	int rc = mkdir_parents(root, f->path);
	if (rc < 0)
		return rc;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, f->path);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	while (off < f->len) {
		ssize_t w = write(fd, f->data + off, f->len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			close(fd);
			return rc;
		}
		off += (size_t)w;
	}
	/* the mode is set explicitly: the umask must not change it (upstream chmods too) */
	if (fchmod(fd, (mode_t)(f->mode & 07777)) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* `<top> -> ..data/<top>` for every top-level path of the payload (existing ones kept) */
static int user_links(const char *dir, const aw_payload *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n; i++) {
		char t[NAME_MAX + 1], link[PATH_MAX], target[PATH_MAX];
		top_of(p->f[i].path, t, sizeof(t));
		snprintf(link, sizeof(link), "%s/%s", dir, t);
		snprintf(target, sizeof(target), DATA_DIR "/%s", t);
		if (symlink(target, link) < 0 && errno != EEXIST) {
			int e = errno;
			snprintf(err, errlen, "symlink %s: %s", link, strerror(e));
			return -e;
		}
	}
	return 0;
}

int aw_write(const char *dir, const aw_payload *p, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n; i++)
		if (aw_validate_path(p->f[i].path, err, errlen) < 0)
			return -EINVAL;
	char data_link[PATH_MAX], old_ts[NAME_MAX + 1] = "", old_tsdir[PATH_MAX] = "";
	snprintf(data_link, sizeof(data_link), "%s/" DATA_DIR, dir);
	ssize_t l = readlink(data_link, old_ts, sizeof(old_ts) - 1);
	if (l > 0) {
		old_ts[l] = 0;
		snprintf(old_tsdir, sizeof(old_tsdir), "%s/%s", dir, old_ts);
	}
	/* paths to remove: user-visible top-level entries of the old payload no longer in
	 * the new one */
	char (*to_remove)[NAME_MAX + 1] = NULL;
	size_t n_remove = 0;
	int changed = old_tsdir[0] == 0;
	if (old_tsdir[0]) {
		DIR *d = opendir(old_tsdir);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d))) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				int keep = 0;
				for (size_t i = 0; i < p->n && !keep; i++) {
					char t[NAME_MAX + 1];
					top_of(p->f[i].path, t, sizeof(t));
					keep = !strcmp(t, de->d_name);
				}
				if (keep)
					continue;
				void *nr = realloc(to_remove, (n_remove + 1) * sizeof(*to_remove));
				if (!nr) {
					closedir(d);
					free(to_remove);
					return -ENOMEM;
				}
				to_remove = nr;
				snprintf(to_remove[n_remove++], NAME_MAX + 1, "%s", de->d_name);
			}
			closedir(d);
		} else {
			changed = 1;
		}
		if (n_remove > 0 || count_files(old_tsdir) != (int)p->n)
			changed = 1;
		for (size_t i = 0; i < p->n && !changed; i++)
			if (!same_file(old_tsdir, &p->f[i]))
				changed = 1;
	}
	if (!changed) {
		/* the user-visible links may still need creating (a crash between steps) */
		free(to_remove);
		return user_links(dir, p, err, errlen);
	}
	/* the new timestamped dir: os.MkdirTemp(dir, "..2006_01_02_15_04_05.") */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	gmtime_r(&now.tv_sec, &tm);
	char tsname[64], tsdir[PATH_MAX];
	strftime(tsname, sizeof(tsname), "..%Y_%m_%d_%H_%M_%S.", &tm);
	snprintf(tsdir, sizeof(tsdir), "%s/%sXXXXXX", dir, tsname);
	if (!mkdtemp(tsdir)) {
		int e = errno;
		snprintf(err, errlen, "mkdtemp in %s: %s", dir, strerror(e));
		free(to_remove);
		return -e;
	}
	chmod(tsdir, 0755);
	const char *new_ts = strrchr(tsdir, '/') + 1;
	int rc = 0;
	for (size_t i = 0; i < p->n && rc == 0; i++) {
		rc = write_file(tsdir, &p->f[i]);
		if (rc < 0)
			snprintf(err, errlen, "write %s/%s: %s", tsdir, p->f[i].path, strerror(-rc));
	}
	char tmp_link[PATH_MAX];
	snprintf(tmp_link, sizeof(tmp_link), "%s/" DATA_TMP, dir);
	if (rc == 0) {
		unlink(tmp_link);
		if (symlink(new_ts, tmp_link) < 0 || rename(tmp_link, data_link) < 0) {
			rc = -errno;
			snprintf(err, errlen, "swap %s: %s", data_link, strerror(-rc));
			unlink(tmp_link);
		}
	}
	if (rc < 0) {
		aw_remove_tree(tsdir);
		free(to_remove);
		return rc;
	}
	rc = user_links(dir, p, err, errlen);
	for (size_t i = 0; i < n_remove; i++) {
		char link[PATH_MAX];
		snprintf(link, sizeof(link), "%s/%s", dir, to_remove[i]);
		struct stat st;
		if (lstat(link, &st) == 0 && S_ISLNK(st.st_mode))
			unlink(link);
	}
	free(to_remove);
	if (old_tsdir[0] && strcmp(old_ts, new_ts))
		aw_remove_tree(old_tsdir);
	return rc < 0 ? rc : 1;
}
