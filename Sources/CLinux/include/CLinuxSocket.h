// CLinuxSocket: the socket calls SystemdNotify needs to send sd_notify datagrams (AF_UNIX,
// SOCK_DGRAM) without libsystemd, plus the environment and pid reads it starts from. Same rules
// as CLinux.h: one libc call per function, a `cl_` prefix, no logic.
#ifndef SENSORLOOP_CLINUX_SOCKET_H
#define SENSORLOOP_CLINUX_SOCKET_H

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

// Named so LoopLinux makes every call through this module (Embedded builds import no Glibc).
static inline int cl_socket(int domain, int type, int protocol) {
  return socket(domain, type, protocol);
}

// As cl_socket, for sendmsg: one datagram gathered from several buffers, so a message such as
// "STATUS=" + text is sent without first copying it into one buffer.
static inline ssize_t cl_sendmsg(int fd, const struct msghdr *message, int flags) {
  return sendmsg(fd, message, flags);
}

// As cl_socket, for getenv; the result points into the environment and is never freed.
static inline const char *cl_getenv(const char *name) { return getenv(name); }

// As cl_socket, for getpid ($WATCHDOG_PID names the process the watchdog is meant for).
static inline pid_t cl_getpid(void) { return getpid(); }

#endif
