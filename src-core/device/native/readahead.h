#ifndef BCACHEFS_REPAIR_READAHEAD_H
#define BCACHEFS_REPAIR_READAHEAD_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RA_MISS (-1000000)

/* Queue a background read of the aligned range [pos, pos+len) of fd; 0 if not queued (full, unaligned). */
int ra_prefetch(int fd, int64_t pos, size_t len);
/* Take a finished read of exactly that range: its buffer (caller frees) and length, or RA_MISS. */
ssize_t ra_take(int fd, int64_t pos, size_t len, unsigned char **buf_out);
/* Forget fd's reads overlapping [start, end) (end < 0: all of them): before writes and on close. */
void ra_drop(int fd, int64_t start, int64_t end);
size_t ra_bytes_held(void);
#endif
