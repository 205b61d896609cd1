/* Atomic volume payload writes, as upstream's pkg/volume/util/atomic_writer.go, which
 * configMap, secret, downwardAPI and projected volumes use so that a container never
 * sees half of an update.  Prefix aw_.
 *
 * Layout inside the volume directory:
 *
 *   ..2026_11_25_15_04_05.123456789/   the payload of one write (timestamped dir)
 *   ..data -> ..2026_11_25_15_04_05.123456789
 *   key    -> ..data/key               one symlink per top-level payload path
 *
 * A write creates a new timestamped dir, fills it, points a `..data_tmp` symlink at it
 * and renames that over `..data` (the atomic step), adds the user-visible symlinks that
 * are missing, removes those of paths no longer in the payload, then removes the old
 * timestamped dir.  A payload equal to what is there (content and mode) is not
 * rewritten. */
#ifndef KUBELET_ATOMIC_WRITER_H
#define KUBELET_ATOMIC_WRITER_H

#include <stddef.h>

typedef struct aw_file {
	char *path;     /* relative, "/"-separated, no ".." element, not starting with ".." */
	char *data;
	size_t len;
	int mode;       /* permission bits, e.g. 0644 */
} aw_file;

/* A growable payload; every string is owned by it. */
typedef struct aw_payload {
	aw_file *f;
	size_t n, cap;
} aw_payload;

/* Add (path and data copied); a later file with the same path replaces the earlier
 * one, as upstream's payload map does.  0 or -ENOMEM. */
int aw_payload_add(aw_payload *p, const char *path, const char *data, size_t len, int mode);
void aw_payload_close(aw_payload *p);

/* upstream validatePath: -EINVAL with err for an absolute path, a ".." element, a path
 * starting with "..", an empty path or one longer than 4096 bytes. */
int aw_validate_path(const char *path, char *err, size_t errlen);

/* Write p into dir (which must exist).  Returns 1 when written, 0 when the payload was
 * already there unchanged, or a negative error with err set (the previous payload stays
 * visible). */
int aw_write(const char *dir, const aw_payload *p, char *err, size_t errlen);

/* Remove path and everything below it without following symlinks or crossing into
 * other filesystems (a mount below is left alone). */
void aw_remove_tree(const char *path);

#endif
