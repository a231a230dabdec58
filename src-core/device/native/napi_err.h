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

/* argv[0] as a file descriptor; throws and returns 0 when it is not a non-negative integer. */
static inline int fd_arg(napi_env env, size_t argc, napi_value *argv, int32_t *fd) {
  if (argc < 1 || napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    throw_type(env, "fd must be a non-negative integer");
    return 0;
  }
  return 1;
}
#endif
