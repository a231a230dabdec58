/*
 * crc32c.c: CRC-32C (Castagnoli) for bcachefs-repair's checksum verification.
 * Raw update without pre/post inversion, like the JS fallback in src-core/format/bytes.ts.
 * Uses the SSE4.2 crc32 instruction where the CPU has it, a slicing-by-8 table otherwise.
 */
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <stdbool.h>

static uint32_t table[8][256];
static bool have_sse42;

static void init_table(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int i = 0; i < 8; i++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = table[0][n];
    for (int k = 1; k < 8; k++) {
      c = table[0][c & 0xff] ^ (c >> 8);
      table[k][n] = c;
    }
  }
#if defined(__x86_64__)
  __builtin_cpu_init();
  have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    uint32_t a = c ^ (uint32_t)w, b = (uint32_t)(w >> 32);
    c = table[7][a & 0xff] ^ table[6][(a >> 8) & 0xff] ^ table[5][(a >> 16) & 0xff] ^ table[4][a >> 24] ^
        table[3][b & 0xff] ^ table[2][(b >> 8) & 0xff] ^ table[1][(b >> 16) & 0xff] ^ table[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c64 = __builtin_ia32_crc32di(c64, w);
    p += 8;
    n -= 8;
  }
  c = (uint32_t)c64;
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}
#endif

/* crc32c(buf: Uint8Array, start, end, crc) -> crc */
napi_value js_crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) {
    napi_throw_type_error(env, NULL, "crc32c: expected (buf, start, end, crc)");
    return NULL;
  }
  napi_typedarray_type type;
  size_t len;
  void *data;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[0], &type, &len, &data, &ab, &off) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "crc32c: expected a Uint8Array");
    return NULL;
  }
  int64_t start, end;
  uint32_t crc;
  if (napi_get_value_int64(env, argv[1], &start) != napi_ok || napi_get_value_int64(env, argv[2], &end) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &crc) != napi_ok || start < 0 || end < start || (size_t)end > len) {
    napi_throw_range_error(env, NULL, "crc32c: bad range");
    return NULL;
  }
  const uint8_t *p = (const uint8_t *)data + start;
  size_t n = (size_t)(end - start);
#if defined(__x86_64__)
  crc = have_sse42 ? crc_hw(crc, p, n) : crc_sw(crc, p, n);
#else
  crc = crc_sw(crc, p, n);
#endif
  napi_value r;
  napi_create_uint32(env, crc, &r);
  return r;
}

/* Called from every env's init (main thread and each worker): build the tables once, before any
   thread can read them. */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
void crc32c_init(void) { pthread_once(&table_once, init_table); }
