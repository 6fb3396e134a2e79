// Valgrind 3.19 writes into the mask passed to rt_sigsuspend; libdispatch's dispatch_main()
// passes a mask in read-only memory, so valgrind itself crashes. Copy the mask first.
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
int sigsuspend(const sigset_t *mask) {
  sigset_t copy = *mask;
  return (int)syscall(SYS_rt_sigsuspend, &copy, 8);
}
