#ifndef BCACHEFS_REPAIR_NAPI_ERR_H
#define BCACHEFS_REPAIR_NAPI_ERR_H
/* Errors thrown into JS, shared by direct_io.c and lock.c; each returns NULL so a caller can `return throw_...`. */
#include <node_api.h>
#include <stdio.h>
#include <string.h>

/* An Error carrying errno and syscall, which device/errors.ts maps to DeviceError codes. */
static inline napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", syscall, strerror(err));
  napi_value m, e, v;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, m, &e) != napi_ok) return NULL;
  if (napi_create_int32(env, err, &v) == napi_ok) napi_set_named_property(env, e, "errno", v);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, e, "syscall", v);
  napi_throw(env, e);
  return NULL;
}

static inline napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG", msg);
  return NULL;
}

/* The n arguments of a call whose first is a file descriptor: fills argv[0..n) and *fd. Throws `usage` when
 * fewer came, or a TypeError when argv[0] is not a non-negative integer; returns 0 after throwing. */
static inline int fd_call_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, int32_t *fd,
                               const char *usage) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < n) {
    throw_type(env, usage);
    return 0;
  }
  if (napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    throw_type(env, "fd must be a non-negative integer");
    return 0;
  }
  return 1;
}

/* A call whose one argument is a file descriptor. */
static inline int fd_call(napi_env env, napi_callback_info info, int32_t *fd) {
  napi_value argv[1];
  return fd_call_args(env, info, 1, argv, fd, "fd must be a non-negative integer");
}
#endif
