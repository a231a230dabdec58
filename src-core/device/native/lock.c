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
#include <string.h>
#include "napi_err.h"

static void whole_file(struct flock *fl) {
  memset(fl, 0, sizeof *fl);
  fl->l_type = F_WRLCK;
  fl->l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file, however large; l_pid must be 0 */
}

napi_value js_ofd_lock(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_call(env, info, &fd)) return NULL;
  struct flock fl;
  whole_file(&fl);
  int taken = 1;
  while (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES) {
      taken = 0;
      break;
    }
    return throw_errno(env, "fcntl(F_OFD_SETLK)", errno);
  }
  napi_value r;
  napi_get_boolean(env, taken, &r);
  return r;
}

napi_value js_ofd_locked(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_call(env, info, &fd)) return NULL;
  struct flock fl;
  whole_file(&fl);
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) return throw_errno(env, "fcntl(F_OFD_GETLK)", errno);
  napi_value r;
  napi_get_boolean(env, fl.l_type != F_UNLCK, &r);
  return r;
}
