#ifndef BCACHEFS_REPAIR_IO_H
#define BCACHEFS_REPAIR_IO_H
/* The pread loop shared by direct_io.c (synchronous reads) and readahead.c (background reads). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

/*
 * pread [pos, pos+len) into buf until done or EOF; returns bytes read or -errno (EINTR is retried).
 * A short read that ends off the `align` grid can only be end of file (a regular file whose size is
 * not a multiple of align): stop there, since continuing from an unaligned position would fail with
 * EINVAL under O_DIRECT.
 */
static inline ssize_t full_pread(int fd, unsigned char *buf, size_t len, int64_t pos, size_t align) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, (off_t)(pos + (int64_t)done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break; /* EOF */
    done += (size_t)n;
    if (done % align != 0) break;
  }
  return (ssize_t)done;
}
#endif
