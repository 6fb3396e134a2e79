// CLinux: the thin C layer under LoopLinux. Every function here is one libc call with a `cl_`
// prefix and no logic; each exists because Swift cannot call the libc entry point as it is
// (variadic, a macro, errno as a thread-local macro) or because it must be async-signal-safe.
// Swift code above it (LoopLinux) gives the calls Swift names and typed errors.
#ifndef SENSORLOOP_CLINUX_H
#define SENSORLOOP_CLINUX_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <linux/watchdog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

// The socket calls SystemdNotify makes. SwiftPM makes this file the umbrella header of the
// CLinux module, so another header in include/ is part of the module only if included here.
#include "CLinuxSocket.h"
// Non-blocking stream sockets (LoopLinux Socket.swift: TCP and Unix, for the MQTT client).
#include "CLinuxStream.h"

// errno is a macro over a thread-local lvalue; Swift reads it through a function.
static inline int cl_errno(void) { return errno; }

// Named so every call LoopLinux makes comes from this one module (Embedded builds import no Glibc).
static inline ssize_t cl_read(int fd, void *buf, size_t count) { return read(fd, buf, count); }

// As cl_read, for writes.
static inline ssize_t cl_write(int fd, const void *buf, size_t count) {
  return write(fd, buf, count);
}

// As cl_read, for positioned reads (sysfs attributes re-read from offset 0).
static inline ssize_t cl_pread(int fd, void *buf, size_t count, off_t offset) {
  return pread(fd, buf, count, offset);
}

// As cl_read, for close.
static inline int cl_close(int fd) { return close(fd); }

// open is variadic (the mode argument), which Swift cannot call.
static inline int cl_open(const char *path, int flags, unsigned int mode) {
  return open(path, flags, (mode_t)mode);
}

// struct stat's layout differs by architecture and glibc version; only the file type (the S_IFMT
// bits of st_mode) is needed, so it is passed out alone.
static inline int cl_fstat_mode(int fd, unsigned int *mode) {
  struct stat st;
  int result = fstat(fd, &st);
  if (result == 0) *mode = (unsigned int)st.st_mode;
  return result;
}

// ioctl is variadic and WDIOC_GETTIMEOUT a macro: the watchdog device's timeout in seconds.
static inline int cl_watchdog_get_timeout(int fd, int *seconds) {
  return ioctl(fd, WDIOC_GETTIMEOUT, seconds);
}

// fcntl is variadic, which Swift cannot call; this is the int-argument form.
static inline int cl_fcntl(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }

// glibc declares pipe2 only under _GNU_SOURCE, and defining that here would change the system
// headers' structs (fd_set) for every C module that shares them; the prototype is declared alone.
extern int pipe2(int fds[2], int flags);

// As cl_read, for pipe2 (pipe with flags in one call, no race on O_CLOEXEC).
static inline int cl_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

// As cl_read, for the monotonic clock (a vDSO call, no syscall).
static inline int cl_clock_gettime(clockid_t clock, struct timespec *now) {
  return clock_gettime(clock, now);
}

// As cl_read, for epoll_create1.
static inline int cl_epoll_create1(int flags) { return epoll_create1(flags); }

// As cl_read, for epoll_ctl.
static inline int cl_epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
  return epoll_ctl(epfd, op, fd, event);
}

// As cl_read, for epoll_wait.
static inline int cl_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout) {
  return epoll_wait(epfd, events, max, timeout);
}

// As cl_read, for timerfd_create.
static inline int cl_timerfd_create(int clock, int flags) { return timerfd_create(clock, flags); }

// As cl_read, for timerfd_settime.
static inline int cl_timerfd_settime(int fd, int flags, const struct itimerspec *new_value,
                                     struct itimerspec *old_value) {
  return timerfd_settime(fd, flags, new_value, old_value);
}

// As cl_read, for eventfd.
static inline int cl_eventfd(unsigned int initial, int flags) { return eventfd(initial, flags); }

// Adds 1 to an eventfd from any thread or from a POSIX signal handler: one write(2), which is
// async-signal-safe, with errno saved and restored so the interrupted code never sees it change.
// A saturated counter (EAGAIN) already means "raised", so the result is not reported.
static inline void cl_eventfd_signal(int fd) {
  int saved = errno;
  uint64_t one = 1;
  ssize_t written = write(fd, &one, sizeof one);
  (void)written;
  errno = saved;
}

// sigemptyset may be a macro in some C libraries; a function keeps Swift portable.
static inline int cl_sigemptyset(sigset_t *set) { return sigemptyset(set); }

// sigaddset may be a macro in some C libraries; a function keeps Swift portable.
static inline int cl_sigaddset(sigset_t *set, int signo) { return sigaddset(set, signo); }

// sigismember may be a macro in some C libraries; a function keeps Swift portable.
static inline int cl_sigismember(const sigset_t *set, int signo) { return sigismember(set, signo); }

// pthread_sigmask reports its error as the return value, not errno; the shim keeps that form.
int cl_pthread_sigmask(int how, const sigset_t *set, sigset_t *old);

// As cl_read, for signalfd.
static inline int cl_signalfd(int fd, const sigset_t *mask, int flags) {
  return signalfd(fd, mask, flags);
}

// The worker threads of LoopLinux's BlockingWorker (slow file I/O off the loop thread). Out of
// line in shim.c, so the header does not pull in <pthread.h>. Each starts `start(arg)` on a new
// detached thread (it inherits the caller's signal mask); returns 0 or the error number, as
// pthread_create does (pthread_t stays in shim.c: Swift never needs it).
int cl_thread_start_detached(void *(*start)(void *), void *arg);

// mmap takes an off_t and is a plain call; named here so LoopLinux's calls all come from CLinux.
// The worker's shared slots live in one anonymous mapping made at startup (no Swift heap).
static inline void *cl_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  return mmap(addr, length, prot, flags, fd, offset);
}

// As cl_mmap, for munmap.
static inline int cl_munmap(void *addr, size_t length) { return munmap(addr, length); }

// As cl_read, for fstat (is the output the same file as stderr? is it a regular file?).
static inline int cl_fstat(int fd, struct stat *st) { return fstat(fd, st); }

// As cl_read, for clock_nanosleep (shutdown waits for a worker's last write, never the loop).
static inline int cl_clock_nanosleep(clockid_t clock, int flags, const struct timespec *request,
                                     struct timespec *remain) {
  return clock_nanosleep(clock, flags, request, remain);
}

#include "CLinuxProcess.h"

#endif
