/*
 * lock.c: open file description (OFD) locks for bcachefs-repair's write mode.
 *
 * A repair holds an exclusive lock on the image file or device node for the life of its handle, so a
 * second repair of the same disk is refused. OFD locks (fcntl F_OFD_SETLK) belong to the open file
 * description, not the process: closing that descriptor or the process dying in any way (SIGKILL
 * included) releases them, and another descriptor in the same process conflicts like another process.
 * Node has no fcntl locking, hence this file.
 *
 *   ofdLock(fd) -> true if the exclusive whole-file lock was taken, false if another holder has one
 *   ofdLocked(fd) -> true if another open file description holds a conflicting lock (F_OFD_GETLK)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>

static napi_value throw_lock_errno(napi_env env, const char *syscall, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", syscall, strerror(err));
  napi_value m, e, v;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok) return NULL;
  if (napi_create_error(env, NULL, m, &e) != napi_ok) return NULL;
  if (napi_create_int32(env, err, &v) == napi_ok) napi_set_named_property(env, e, "errno", v);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, e, "syscall", v);
  napi_throw(env, e);
  return NULL;
}

static int get_fd(napi_env env, napi_callback_info info, int *fd) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t v;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &v) != napi_ok || v < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "fd must be a non-negative integer");
    return 0;
  }
  *fd = v;
  return 1;
}

static void whole_file(struct flock *fl) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = F_WRLCK;
  fl->l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file, however large; l_pid must be 0 */
}

napi_value js_ofd_lock(napi_env env, napi_callback_info info) {
  int fd;
  if (!get_fd(env, info, &fd)) return NULL;
  struct flock fl;
  whole_file(&fl);
  int taken = 1;
  while (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES) {
      taken = 0;
      break;
    }
    return throw_lock_errno(env, "fcntl(F_OFD_SETLK)", errno);
  }
  napi_value r;
  napi_get_boolean(env, taken, &r);
  return r;
}

napi_value js_ofd_locked(napi_env env, napi_callback_info info) {
  int fd;
  if (!get_fd(env, info, &fd)) return NULL;
  struct flock fl;
  whole_file(&fl);
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return throw_lock_errno(env, "fcntl(F_OFD_GETLK)", errno);
  napi_value r;
  napi_get_boolean(env, fl.l_type != F_UNLCK, &r);
  return r;
}
