/*
 * readahead.c: background O_DIRECT reads for bcachefs-repair.
 *
 * O_DIRECT bypasses the kernel's readahead, so a btree walk would wait for every node read in turn. The
 * walker knows which nodes come next (the children of the node it just read): it asks for them here, two
 * threads read them into aligned buffers of their own, and the next synchronous pread of exactly that
 * range takes the data instead of going to the disk. Nothing here touches JS memory or N-API from the
 * threads. Entries are keyed by (fd, aligned range); a write or a close drops the fd's entries, so stale
 * data is never served.
 *
 * Buffers are kept for reuse (a walk asks for hundreds of ranges of one node size): allocating and freeing
 * them each time costs an mmap, page faults and an munmap (with its TLB shootdown of every thread) per
 * node. No system call is made while the lock is held, so that a thread preempted holding it (the machine
 * may be busy) stalls the others as little as possible.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "readahead.h"

#define RA_ENTRIES 64
#define RA_MAX_BYTES (32u * 1024u * 1024u)
#define RA_THREADS 2
#define RA_ALIGN 4096u
#define RA_POOL RA_ENTRIES

enum { RA_FREE, RA_QUEUED, RA_RUNNING, RA_DONE, RA_ORPHANED };

typedef struct {
  int state;
  int fd;
  int64_t pos;
  size_t len;
  unsigned char *buf;
  ssize_t result; /* bytes read, or -errno */
  uint64_t order; /* age: FIFO among queued entries, oldest-first eviction among finished ones */
} ra_entry;

static ra_entry entries[RA_ENTRIES];
static size_t bytes_held;
static uint64_t next_order;
static uint64_t hits; /* ra_take calls that returned data */
static int threads_started;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
/* spare buffers, all of pool_len bytes (the size asked for last: one node size per walk) */
static unsigned char *pool[RA_POOL];
static int pool_n;
static size_t pool_len;

/* Under mu: a spare buffer of len bytes, or NULL. */
static unsigned char *pool_get(size_t len) {
  if (pool_n == 0 || pool_len != len) return NULL;
  __atomic_store_n(&pool_n, pool_n - 1, __ATOMIC_RELAXED);
  return pool[pool_n];
}

/* Under mu: keeps buf for reuse; returns it if it cannot be kept (the caller frees it, unlocked). */
static unsigned char *pool_put(unsigned char *buf, size_t len) {
  if (!buf) return NULL;
  if (pool_n && pool_len != len) return buf;
  if (pool_n == RA_POOL) return buf;
  __atomic_store_n(&pool_len, len, __ATOMIC_RELAXED);
  pool[pool_n] = buf;
  __atomic_store_n(&pool_n, pool_n + 1, __ATOMIC_RELAXED);
  return NULL;
}

/* Under mu: frees the entry; returns a buffer the caller must free() once unlocked, or NULL. */
static unsigned char *release(ra_entry *e) {
  unsigned char *left = pool_put(e->buf, e->len);
  bytes_held -= e->len;
  memset(e, 0, sizeof *e);
  return left;
}

static void *worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  for (;;) {
    ra_entry *e = NULL;
    for (int i = 0; i < RA_ENTRIES; i++)
      if (entries[i].state == RA_QUEUED && (!e || entries[i].order < e->order)) e = &entries[i];
    if (!e) {
      pthread_cond_wait(&work_cv, &mu);
      continue;
    }
    e->state = RA_RUNNING;
    int fd = e->fd;
    unsigned char *buf = e->buf;
    size_t len = e->len;
    int64_t pos = e->pos;
    pthread_mutex_unlock(&mu);
    ssize_t r = full_pread(fd, buf, len, pos, RA_ALIGN); /* ranges are RA_ALIGN-aligned */
    pthread_mutex_lock(&mu);
    if (e->state == RA_ORPHANED) {
      unsigned char *left = release(e);
      if (left) {
        pthread_mutex_unlock(&mu);
        free(left);
        pthread_mutex_lock(&mu);
      }
    } else {
      e->result = r;
      e->state = RA_DONE;
    }
    pthread_cond_broadcast(&done_cv);
  }
  return NULL;
}

int ra_prefetch(int fd, int64_t pos, size_t len) {
  if (len == 0 || pos % RA_ALIGN || len % RA_ALIGN) return 0;
  /* a buffer made before taking the lock, in case none is spare */
  unsigned char *fresh = NULL;
  if (__atomic_load_n(&pool_n, __ATOMIC_RELAXED) == 0 || __atomic_load_n(&pool_len, __ATOMIC_RELAXED) != len) {
    void *p = NULL;
    if (posix_memalign(&p, RA_ALIGN, len) != 0) return 0;
    fresh = (unsigned char *)p;
  }
  unsigned char *evicted[RA_ENTRIES];
  int nevicted = 0;
  pthread_mutex_lock(&mu);
  int ok = 0;
  ra_entry *slot = NULL;
  for (int i = 0; i < RA_ENTRIES; i++) {
    ra_entry *e = &entries[i];
    if (e->state != RA_FREE && e->state != RA_ORPHANED && e->fd == fd && e->pos == pos && e->len == len) goto out; /* already asked for */
    if (e->state == RA_FREE && !slot) slot = e;
  }
  /* Full (prefetches the walker never took, e.g. children it did not descend into): make room by
     evicting the oldest finished reads. Queued and running ones stay; if they alone fill it, give up. */
  while (!slot || bytes_held + len > RA_MAX_BYTES) {
    ra_entry *old = NULL;
    for (int i = 0; i < RA_ENTRIES; i++)
      if (entries[i].state == RA_DONE && (!old || entries[i].order < old->order)) old = &entries[i];
    if (!old) goto out;
    unsigned char *left = release(old);
    if (left) evicted[nevicted++] = left;
    if (!slot) slot = old;
  }
  if (!threads_started) {
    for (int i = 0; i < RA_THREADS; i++) {
      pthread_t t;
      if (pthread_create(&t, NULL, worker, NULL) == 0) {
        pthread_detach(t);
        threads_started++;
      }
    }
    if (!threads_started) goto out;
  }
  unsigned char *buf = pool_get(len);
  if (!buf) {
    buf = fresh;
    fresh = NULL;
  }
  if (!buf) goto out; /* the spare one was taken meanwhile: skip this read-ahead rather than allocate under the lock */
  slot->state = RA_QUEUED;
  slot->fd = fd;
  slot->pos = pos;
  slot->len = len;
  slot->buf = buf;
  slot->result = 0;
  slot->order = next_order++;
  bytes_held += len;
  pthread_cond_signal(&work_cv);
  ok = 1;
out:
  if (fresh) fresh = pool_put(fresh, len);
  pthread_mutex_unlock(&mu);
  free(fresh);
  for (int i = 0; i < nevicted; i++) free(evicted[i]);
  return ok;
}

ssize_t ra_take(int fd, int64_t pos, size_t len, unsigned char **buf_out) {
  pthread_mutex_lock(&mu);
  ra_entry *e = NULL;
  unsigned char *left = NULL;
  ssize_t r = RA_MISS;
  for (int i = 0; i < RA_ENTRIES; i++) {
    ra_entry *c = &entries[i];
    if ((c->state == RA_QUEUED || c->state == RA_RUNNING || c->state == RA_DONE) && c->fd == fd && c->pos == pos && c->len == len) {
      e = c;
      break;
    }
  }
  if (!e) goto out;
  if (e->state == RA_QUEUED) { /* not started: cheaper to read it ourselves than to wait behind others */
    left = release(e);
    goto out;
  }
  /* While we wait, another thread may drop the entry (ra_drop: orphaned, then released by the worker),
     evict it or reuse the slot for another request: wait only while it is still our running read, and
     afterwards touch it only if it is still ours and finished. */
  while (e->state == RA_RUNNING && e->fd == fd && e->pos == pos && e->len == len) pthread_cond_wait(&done_cv, &mu);
  if (e->state != RA_DONE || e->fd != fd || e->pos != pos || e->len != len) goto out;
  if (e->result < 0 || (size_t)e->result < len) { /* an error or a short read: let the caller read it again and report it */
    left = release(e);
    goto out;
  }
  r = e->result;
  *buf_out = e->buf;
  e->buf = NULL;
  bytes_held -= e->len;
  memset(e, 0, sizeof *e);
  hits++;
out:
  pthread_mutex_unlock(&mu);
  free(left);
  return r;
}

void ra_recycle(unsigned char *buf, size_t len) {
  pthread_mutex_lock(&mu);
  unsigned char *left = pool_put(buf, len);
  pthread_mutex_unlock(&mu);
  free(left);
}

void ra_drop(int fd, int64_t start, int64_t end) {
  unsigned char *left[RA_ENTRIES];
  int nleft = 0;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < RA_ENTRIES; i++) {
    ra_entry *e = &entries[i];
    if (e->state == RA_FREE || e->state == RA_ORPHANED || e->fd != fd) continue;
    if (end >= 0 && (e->pos >= end || e->pos + (int64_t)e->len <= start)) continue;
    if (e->state == RA_RUNNING) {
      e->state = RA_ORPHANED; /* the worker frees it when its read returns */
    } else {
      unsigned char *b = release(e);
      if (b) left[nleft++] = b;
    }
  }
  /* on close: once nothing is held for anyone, give the spare buffers back too */
  unsigned char *spare[RA_POOL];
  int nspare = 0;
  if (end < 0 && bytes_held == 0) {
    while (pool_n) spare[nspare++] = pool_get(pool_len);
  }
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < nleft; i++) free(left[i]);
  for (int i = 0; i < nspare; i++) free(spare[i]);
}

size_t ra_bytes_held(void) {
  pthread_mutex_lock(&mu);
  size_t b = bytes_held;
  pthread_mutex_unlock(&mu);
  return b;
}

uint64_t ra_hits(void) {
  pthread_mutex_lock(&mu);
  uint64_t h = hits;
  pthread_mutex_unlock(&mu);
  return h;
}

int ra_pending(void) {
  pthread_mutex_lock(&mu);
  int n = 0;
  for (int i = 0; i < RA_ENTRIES; i++)
    if (entries[i].state == RA_QUEUED || entries[i].state == RA_RUNNING || entries[i].state == RA_ORPHANED) n++;
  pthread_mutex_unlock(&mu);
  return n;
}
