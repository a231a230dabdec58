#ifndef BCACHEFS_REPAIR_READAHEAD_H
#define BCACHEFS_REPAIR_READAHEAD_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RA_MISS (-1000000)

/* Queue a background read of the aligned range [pos, pos+len) of fd; 0 if not queued (unaligned, already
   asked for, or full of queued/running reads: finished but untaken ones are evicted oldest first). */
int ra_prefetch(int fd, int64_t pos, size_t len);
/* Take a finished read of exactly that range: its buffer (give it back with ra_recycle) and length, or RA_MISS. */
ssize_t ra_take(int fd, int64_t pos, size_t len, unsigned char **buf_out);
/* Gives back a buffer from ra_take (kept for the next read-ahead of that size, or freed). */
void ra_recycle(unsigned char *buf, size_t len);
/* Forget fd's reads overlapping [start, end) (end < 0: all of them): before writes and on close. */
void ra_drop(int fd, int64_t start, int64_t end);
size_t ra_bytes_held(void);
/* For tests: how many ra_take calls returned data; how many reads are queued or in flight. */
uint64_t ra_hits(void);
int ra_pending(void);
#endif
