// CLinuxStream: the calls LoopLinux's Socket (non-blocking stream sockets: TCP over IPv4 or IPv6,
// and Unix sockets) makes. Same rules as CLinux.h: one libc call per function, a `cl_` prefix, no
// logic beyond filling the C address structure the call takes (Swift cannot build a sockaddr_un
// or sockaddr_in6 without knowing the C layout).
#ifndef SENSORLOOP_CLINUX_STREAM_H
#define SENSORLOOP_CLINUX_STREAM_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

// inet_pton for IPv4 (family AF_INET, 4 bytes out) or IPv6 (AF_INET6, 16 bytes out): 1 when
// `text` (NUL-terminated) is an address literal of that family, 0 when not. Never resolves a name.
static inline int cl_inet_pton(int family, const char *text, void *out) {
  return inet_pton(family, text, out);
}

// connect to an IPv4 address (4 bytes, network order) and port (host order).
static inline int cl_connect_ipv4(int fd, const unsigned char *address, unsigned short port) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  memcpy(&sa.sin_addr, address, 4);
  return connect(fd, (const struct sockaddr *)&sa, sizeof sa);
}

// connect to an IPv6 address (16 bytes, network order) and port (host order).
static inline int cl_connect_ipv6(int fd, const unsigned char *address, unsigned short port) {
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  memcpy(&sa.sin6_addr, address, 16);
  return connect(fd, (const struct sockaddr *)&sa, sizeof sa);
}

// The room for a Unix socket path, NUL included (108 on Linux).
static inline int cl_unix_path_capacity(void) { return (int)sizeof(((struct sockaddr_un *)0)->sun_path); }

// connect to the Unix socket at `path` (`length` bytes, no NUL needed; at most
// cl_unix_path_capacity() - 1, which the caller checks).
static inline int cl_connect_unix(int fd, const char *path, int length) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, (size_t)length);
  return connect(fd, (const struct sockaddr *)&sa, sizeof sa);
}

// The pending error of a socket (getsockopt SO_ERROR): how a non-blocking connect ended.
static inline int cl_socket_error(int fd, int *error) {
  socklen_t length = sizeof *error;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, error, &length);
}

// TCP_NODELAY on (small MQTT packets go out at once instead of waiting for Nagle).
static inline int cl_tcp_nodelay(int fd) {
  int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// send with MSG_NOSIGNAL: a peer that closed gives EPIPE, never SIGPIPE (which would kill the
// program).
static inline ssize_t cl_send_nosignal(int fd, const void *buffer, size_t count) {
  return send(fd, buffer, count, MSG_NOSIGNAL);
}

// As cl_socket (CLinuxSocket.h), for shutdown.
static inline int cl_shutdown(int fd, int how) { return shutdown(fd, how); }

#endif
