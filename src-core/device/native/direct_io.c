/*
 * direct_io.c: aligned O_DIRECT pread/pwrite for bcachefs-repair.
 *
 * Linux requires the buffer address, the file offset and the length of an
 * O_DIRECT transfer to be multiples of the device's logical block size. Node
 * gives no aligned Buffers, and Electron's V8 memory cage forbids handing JS an
 * ArrayBuffer that points at memory allocated outside V8. So this addon keeps
 * its own posix_memalign'd bounce buffer (one per JS environment, grown on
 * demand up to a fixed cap, then reused), does the I/O there on the covering
 * aligned range, and copies to/from ordinary JS Buffers / Uint8Arrays.
 *
 * The file descriptor is opened by JS (fs.openSync with fs.constants.O_DIRECT);
 * this addon only transfers data. All calls are synchronous.
 *
 * Exports:
 *   pread(fd, target, targetOffset, length, position, align) -> bytes copied
 *       Reads [position, position+length) into target[targetOffset...].
 *       Returns fewer than length only at end of file/device.
 *   pwrite(fd, source, sourceOffset, length, position, align) -> bytes written
 *       Writes source[sourceOffset...+length] at position. Partially covered
 *       edge blocks are read first (read-modify-write). The caller must make
 *       sure the covering aligned range lies inside the file/device.
 *   blockInfo(fd) -> { size, logicalBlockSize }   (BLKGETSIZE64 / BLKSSZGET)
 *   setDirect(fd, on) -> previous state (fcntl F_SETFL toggles O_DIRECT)
 *   bounceSize() -> current bounce buffer size in bytes (for tests)
 *   prefetch(fd, position, length) / dropPrefetch(fd) / prefetchBytes(): read-ahead (readahead.c)
 *   prefetchHits() / prefetchPending(): preads served from read-ahead, reads queued or in flight (tests)
 *   crc32c(buf, start, end, crc): CRC-32C (crc32c.c)
 *   ofdLock(fd) / ofdLocked(fd): exclusive OFD lock for write mode (lock.c)
 *   maxChunk -> largest single transfer (bounce buffer cap)
 *
 * Errors are thrown as Error objects with .errno (positive errno) and
 * .syscall set; JS maps errno to a code name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "io.h"
#include "napi_err.h"
#include "readahead.h"

#define ADDON_ABI_VERSION 5 /* keep equal to ADDON_ABI_VERSION in ../native.ts */
#define MEM_ALIGN 4096u
#define MIN_BOUNCE (256u * 1024u)
#define MAX_BOUNCE (8u * 1024u * 1024u)

/* Per-JS-environment state (napi instance data): the bounce buffer and the fds this environment has
   queued read-aheads for (removed by dropPrefetch, which close() calls). */
typedef struct {
  unsigned char *buf;
  size_t size;
  int *ra_fds;
  size_t ra_nfds, ra_cap;
} bounce_t;

/* Runs when the environment is torn down, including a worker thread terminated before it closed its
   device: drop that environment's read-aheads so they do not hold memory (and slots) until the fd number
   is closed elsewhere. The fds themselves stay open (JS owns them); dropping a reused fd's entries
   would only cost a re-read. */
static void bounce_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  bounce_t *b = (bounce_t *)data;
  if (b) {
    for (size_t i = 0; i < b->ra_nfds; i++) ra_drop(b->ra_fds[i], 0, -1);
    free(b->ra_fds);
    free(b->buf);
    free(b);
  }
}

static bounce_t *env_state(napi_env env) {
  bounce_t *b = NULL;
  if (napi_get_instance_data(env, (void **)&b) == napi_ok && b != NULL) return b;
  b = (bounce_t *)calloc(1, sizeof *b);
  if (!b) return NULL;
  if (napi_set_instance_data(env, b, bounce_finalize, NULL) != napi_ok) {
    free(b);
    return NULL;
  }
  return b;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

/* Make sure the bounce buffer holds at least `need` bytes (need <= MAX_BOUNCE). */
static unsigned char *bounce_get(napi_env env, size_t need) {
  bounce_t *b = env_state(env);
  if (!b) return NULL;
  if (b->size >= need) return b->buf;
  size_t sz = b->size ? b->size : MIN_BOUNCE;
  while (sz < need) sz *= 2;
  if (sz > MAX_BOUNCE) sz = MAX_BOUNCE;
  void *p = NULL;
  if (posix_memalign(&p, MEM_ALIGN, sz) != 0) return NULL;
  free(b->buf);
  b->buf = (unsigned char *)p;
  b->size = sz;
  return b->buf;
}

/* Parse the common (fd, bytes, bytesOffset, length, position, align) arguments. */
typedef struct {
  int fd;
  unsigned char *data; /* JS memory, start of the requested window */
  size_t length;
  int64_t position;
  size_t align;
  /* the window [start, end), the aligned span [astart, aend) holding it, and the largest aligned chunk */
  int64_t start, end, astart, aend;
  size_t chunk_max;
} xfer_args;

static int get_xfer_args(napi_env env, napi_callback_info info, xfer_args *a) {
  napi_value argv[6];
  int32_t fd;
  if (!fd_call_args(env, info, 6, argv, &fd, "expected (fd, buffer, bufferOffset, length, position, align)")) return 0;
  bool is_ta = false;
  napi_is_typedarray(env, argv[1], &is_ta);
  if (!is_ta) {
    throw_type(env, "buffer must be a Buffer or Uint8Array");
    return 0;
  }
  napi_typedarray_type tt;
  size_t ta_len;
  void *ta_data;
  napi_value ab;
  size_t ab_off;
  if (napi_get_typedarray_info(env, argv[1], &tt, &ta_len, &ta_data, &ab, &ab_off) != napi_ok) return 0;
  if (tt != napi_uint8_array && tt != napi_uint8_clamped_array && tt != napi_int8_array) {
    throw_type(env, "buffer must be a Buffer or Uint8Array");
    return 0;
  }
  int64_t boff, len, pos, align;
  if (napi_get_value_int64(env, argv[2], &boff) != napi_ok ||
      napi_get_value_int64(env, argv[3], &len) != napi_ok ||
      napi_get_value_int64(env, argv[4], &pos) != napi_ok ||
      napi_get_value_int64(env, argv[5], &align) != napi_ok) {
    throw_type(env, "bufferOffset, length, position and align must be numbers");
    return 0;
  }
  if (boff < 0 || len < 0 || (uint64_t)boff > ta_len || (uint64_t)len > ta_len - (uint64_t)boff) {
    throw_range(env, "bufferOffset/length outside the buffer");
    return 0;
  }
  if (pos < 0 || pos > INT64_MAX - len - (int64_t)MAX_BOUNCE) {
    throw_range(env, "position out of range");
    return 0;
  }
  if (align < 512 || align > (int64_t)MAX_BOUNCE / 2 || (align & (align - 1)) != 0) {
    throw_range(env, "align must be a power of two between 512 and 4 MiB");
    return 0;
  }
  a->fd = fd;
  a->data = (unsigned char *)ta_data + boff;
  a->length = (size_t)len;
  a->position = pos;
  a->align = (size_t)align;
  a->start = pos;
  a->end = pos + len;
  a->astart = pos - pos % align;
  a->aend = a->end + (align - a->end % align) % align;
  a->chunk_max = MAX_BOUNCE - (MAX_BOUNCE % (size_t)align);
  return 1;
}

/* The bounce buffer for the next chunk of the aligned span at cur; its length in *clen. Throws on NULL. */
static unsigned char *chunk_at(napi_env env, const xfer_args *a, int64_t cur, size_t *clen) {
  *clen = (size_t)(a->aend - cur);
  if (*clen > a->chunk_max) *clen = a->chunk_max;
  unsigned char *bb = bounce_get(env, *clen);
  if (!bb) throw_errno(env, "posix_memalign", ENOMEM);
  return bb;
}

static ssize_t full_pwrite(int fd, const unsigned char *buf, size_t len, int64_t pos) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(pos + (int64_t)done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return -EIO;
    done += (size_t)n;
  }
  return (ssize_t)done;
}

static napi_value js_pread(napi_env env, napi_callback_info info) {
  xfer_args a;
  if (!get_xfer_args(env, info, &a)) return NULL;
  int64_t start = a.start, end = a.end, astart = a.astart, aend = a.aend;
  size_t copied = 0;
  unsigned char *ra_buf = NULL;
  if (ra_take(a.fd, astart, (size_t)(aend - astart), &ra_buf) != RA_MISS) {
    memcpy(a.data, ra_buf + (start - astart), a.length);
    ra_recycle(ra_buf, (size_t)(aend - astart));
    napi_value r;
    napi_create_double(env, (double)a.length, &r);
    return r;
  }
  int64_t cur = astart;
  while (cur < aend) {
    size_t clen;
    unsigned char *bb = chunk_at(env, &a, cur, &clen);
    if (!bb) return NULL;
    ssize_t n = full_pread(a.fd, bb, clen, cur, a.align);
    if (n < 0) return throw_errno(env, "pread", (int)-n);
    /* copy the overlap of [cur, cur+n) with [start, end) */
    int64_t ov_s = cur > start ? cur : start;
    int64_t got_end = cur + n;
    int64_t ov_e = got_end < end ? got_end : end;
    if (ov_e > ov_s) {
      memcpy(a.data + (ov_s - start), bb + (ov_s - cur), (size_t)(ov_e - ov_s));
      copied += (size_t)(ov_e - ov_s);
    }
    if ((size_t)n < clen) break; /* EOF */
    cur += (int64_t)clen;
  }
  napi_value r;
  napi_create_double(env, (double)copied, &r);
  return r;
}

/* One whole edge block of a read-modify-write; throws and returns 0 when it cannot be read whole. */
static int read_edge(napi_env env, int fd, unsigned char *buf, size_t al, int64_t pos) {
  ssize_t n = full_pread(fd, buf, al, pos, al);
  if (n < 0) {
    throw_errno(env, "pread", (int)-n);
    return 0;
  }
  if ((size_t)n < al) {
    throw_errno(env, "pread (read-modify-write)", ENXIO);
    return 0;
  }
  return 1;
}

static napi_value js_pwrite(napi_env env, napi_callback_info info) {
  xfer_args a;
  if (!get_xfer_args(env, info, &a)) return NULL;
  size_t al = a.align;
  int64_t start = a.start, end = a.end, astart = a.astart, aend = a.aend;
  size_t written = 0;
  ra_drop(a.fd, astart, aend); /* a read-ahead of this range would now be stale */
  int64_t cur = astart;
  while (cur < aend) {
    size_t clen;
    unsigned char *bb = chunk_at(env, &a, cur, &clen);
    if (!bb) return NULL;
    int64_t cend = cur + (int64_t)clen;
    /* read-modify-write for partially covered edge blocks */
    if (start > cur && !read_edge(env, a.fd, bb, al, cur)) return NULL;
    if (end < cend) {
      int64_t last = cend - (int64_t)al;
      /* not already read above */
      if (!(last == cur && start > cur) && !read_edge(env, a.fd, bb + (last - cur), al, last)) return NULL;
    }
    int64_t ov_s = cur > start ? cur : start;
    int64_t ov_e = cend < end ? cend : end;
    memcpy(bb + (ov_s - cur), a.data + (ov_s - start), (size_t)(ov_e - ov_s));
    ssize_t n = full_pwrite(a.fd, bb, clen, cur);
    if (n < 0) return throw_errno(env, "pwrite", (int)-n);
    written += (size_t)(ov_e - ov_s);
    cur = cend;
  }
  napi_value r;
  napi_create_double(env, (double)written, &r);
  return r;
}

static napi_value js_block_info(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_call(env, info, &fd)) return NULL;
  uint64_t size = 0;
  int lbs = 0;
  if (ioctl(fd, BLKGETSIZE64, &size) != 0) return throw_errno(env, "ioctl(BLKGETSIZE64)", errno);
  if (ioctl(fd, BLKSSZGET, &lbs) != 0) return throw_errno(env, "ioctl(BLKSSZGET)", errno);
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_double(env, (double)size, &v);
  napi_set_named_property(env, o, "size", v);
  napi_create_int32(env, lbs, &v);
  napi_set_named_property(env, o, "logicalBlockSize", v);
  return o;
}

static napi_value js_set_direct(napi_env env, napi_callback_info info) {
  const char *usage = "expected (fd, on: boolean)";
  napi_value argv[2];
  int32_t fd;
  bool on = false;
  if (!fd_call_args(env, info, 2, argv, &fd, usage)) return NULL;
  if (napi_get_value_bool(env, argv[1], &on) != napi_ok) return throw_type(env, usage);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return throw_errno(env, "fcntl(F_GETFL)", errno);
  int nfl = on ? (fl | O_DIRECT) : (fl & ~O_DIRECT);
  if (nfl != fl && fcntl(fd, F_SETFL, nfl) != 0) return throw_errno(env, "fcntl(F_SETFL)", errno);
  napi_value r;
  napi_get_boolean(env, (fl & O_DIRECT) != 0, &r);
  return r;
}

static napi_value js_bounce_size(napi_env env, napi_callback_info info) {
  (void)info;
  bounce_t *b = NULL;
  napi_get_instance_data(env, (void **)&b);
  napi_value r;
  napi_create_double(env, b ? (double)b->size : 0, &r);
  return r;
}

/* prefetch(fd, position, length) -> queued?  (aligned ranges only; see readahead.c) */
static napi_value js_prefetch(napi_env env, napi_callback_info info) {
  const char *usage = "expected (fd, position, length) with 0 < length <= maxChunk";
  napi_value argv[3];
  int32_t fd;
  int64_t pos, len;
  if (!fd_call_args(env, info, 3, argv, &fd, usage)) return NULL;
  if (napi_get_value_int64(env, argv[1], &pos) != napi_ok || napi_get_value_int64(env, argv[2], &len) != napi_ok ||
      pos < 0 || len <= 0 || len > (int64_t)MAX_BOUNCE)
    return throw_type(env, usage);
  int queued = ra_prefetch(fd, pos, (size_t)len);
  if (queued) { /* remember fd for the environment's teardown (see bounce_finalize) */
    bounce_t *b = env_state(env);
    size_t i = 0;
    while (b && i < b->ra_nfds && b->ra_fds[i] != fd) i++;
    if (b && i == b->ra_nfds) {
      if (b->ra_nfds == b->ra_cap) {
        size_t cap = b->ra_cap ? b->ra_cap * 2 : 8;
        int *p = (int *)realloc(b->ra_fds, cap * sizeof *p);
        if (p) {
          b->ra_fds = p;
          b->ra_cap = cap;
        }
      }
      if (b->ra_nfds < b->ra_cap) b->ra_fds[b->ra_nfds++] = fd;
    }
  }
  napi_value r;
  napi_get_boolean(env, queued != 0, &r);
  return r;
}

/* dropPrefetch(fd): forget every read-ahead of fd (before closing it: fd numbers are reused) */
static napi_value js_drop_prefetch(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_call(env, info, &fd)) return NULL;
  ra_drop(fd, 0, -1);
  bounce_t *b = NULL;
  if (napi_get_instance_data(env, (void **)&b) == napi_ok && b) {
    for (size_t i = 0; i < b->ra_nfds; i++)
      if (b->ra_fds[i] == fd) {
        b->ra_fds[i] = b->ra_fds[--b->ra_nfds];
        break;
      }
  }
  return NULL;
}

static napi_value js_prefetch_bytes(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_double(env, (double)ra_bytes_held(), &r);
  return r;
}

/* prefetchHits(): preads served from read-ahead so far (process-wide; for tests) */
static napi_value js_prefetch_hits(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_double(env, (double)ra_hits(), &r);
  return r;
}

/* prefetchPending(): read-aheads queued or still being read (process-wide; for tests) */
static napi_value js_prefetch_pending(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_create_int32(env, ra_pending(), &r);
  return r;
}

napi_value js_crc32c(napi_env env, napi_callback_info info);
napi_value js_ofd_lock(napi_env env, napi_callback_info info);
napi_value js_ofd_locked(napi_env env, napi_callback_info info);
void crc32c_init(void);

static napi_value init(napi_env env, napi_value exports) {
  crc32c_init();
  napi_property_descriptor props[] = {
      {"pread", NULL, js_pread, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pwrite", NULL, js_pwrite, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blockInfo", NULL, js_block_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setDirect", NULL, js_set_direct, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bounceSize", NULL, js_bounce_size, NULL, NULL, NULL, napi_enumerable, NULL},
      {"crc32c", NULL, js_crc32c, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prefetch", NULL, js_prefetch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropPrefetch", NULL, js_drop_prefetch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prefetchBytes", NULL, js_prefetch_bytes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prefetchHits", NULL, js_prefetch_hits, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prefetchPending", NULL, js_prefetch_pending, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ofdLock", NULL, js_ofd_lock, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ofdLocked", NULL, js_ofd_locked, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  napi_value v;
  napi_create_double(env, (double)MAX_BOUNCE, &v);
  napi_set_named_property(env, exports, "maxChunk", v);
  napi_create_int32(env, ADDON_ABI_VERSION, &v);
  napi_set_named_property(env, exports, "abiVersion", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
