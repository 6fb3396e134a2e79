// CLinux: the out-of-line part of the shim. Most shims are static inline in CLinux.h; this one
// lives here so the header does not pull in <pthread.h> for every Swift client.
#include "CLinux.h"

#include <pthread.h>

// pthread_sigmask lives in libpthread on older glibc; a real symbol keeps the link simple.
int cl_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  return pthread_sigmask(how, set, old);
}

// pthread_create plus pthread_detach: the worker threads are never joined (one may be blocked
// for good in a read of a FIFO nobody writes; the process exits around it).
int cl_thread_start_detached(void *(*start)(void *), void *arg) {
  pthread_t thread;
  int status = pthread_create(&thread, NULL, start, arg);
  if (status != 0) return status;
  return pthread_detach(thread);
}
