// CLinux: the out-of-line part of the shim. Most shims are static inline in CLinux.h; this one
// lives here so the header does not pull in <pthread.h> for every Swift client.
#include "CLinux.h"

#include <pthread.h>

// pthread_sigmask lives in libpthread on older glibc; a real symbol keeps the link simple.
int cl_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  return pthread_sigmask(how, set, old);
}
