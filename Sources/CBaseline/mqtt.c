// W6 baseline: MQTT 3.1.1 PUBLISH at QoS 0 or 1, hand-written over a plain non-blocking TCP
// socket in a bare epoll loop with one absolute periodic timerfd, and the harness pieces W6
// shares with sensorloop's side (the broker process, a free port, the thread's CPU time).
#define _GNU_SOURCE
#include "CBaseline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int64_t cb_thread_cpu_ns(void) {
  struct rusage usage;
  if (getrusage(RUSAGE_THREAD, &usage) != 0) return 0;
  return ((int64_t)usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000;
}

int cb_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof address;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
      getsockname(fd, (struct sockaddr *)&address, &length) == 0)
    port = ntohs(address.sin_port);
  close(fd);
  return port;
}

int cb_broker_start(const char *path, const char *config) {
  pid_t pid;
  char *const argv[] = {(char *)path, "-c", (char *)config, NULL};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  int status = posix_spawn(&pid, path, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (status != 0) {
    errno = status;
    return -1;
  }
  return (int)pid;
}

void cb_broker_stop(int pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

/// A blocking TCP connection to 127.0.0.1:`port` (setup only), or -1.
static int connect_loopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int cb_broker_ready(uint16_t port) {
  int fd = connect_loopback(port);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

static int write_all(int fd, const uint8_t *bytes, size_t count) {
  while (count > 0) {
    ssize_t n = write(fd, bytes, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    bytes += n;
    count -= (size_t)n;
  }
  return 0;
}

/// A remaining length as MQTT's variable-length integer; returns its bytes.
static size_t put_length(uint8_t *out, size_t value) {
  size_t n = 0;
  do {
    uint8_t byte = value % 128;
    value /= 128;
    out[n++] = byte | (value > 0 ? 0x80 : 0);
  } while (value > 0);
  return n;
}

/// `value` thousandths as `12.345` (non-negative); returns the bytes written.
static size_t put_milli(uint8_t *out, int64_t value) {
  uint8_t digits[24];
  size_t n = 0;
  int64_t whole = value / 1000, fraction = value % 1000;
  do {
    digits[n++] = (uint8_t)('0' + whole % 10);
    whole /= 10;
  } while (whole > 0);
  size_t k = 0;
  while (n > 0) out[k++] = digits[--n];
  out[k++] = '.';
  out[k++] = (uint8_t)('0' + fraction / 100);
  out[k++] = (uint8_t)('0' + fraction / 10 % 10);
  out[k++] = (uint8_t)('0' + fraction % 10);
  return k;
}

size_t cb_w6_payload(uint8_t *out, int64_t reading) { return put_milli(out, 20000 + reading % 1000); }

int cb_w6_publish(uint16_t port, int qos, const char *topic, int64_t period_ns, int64_t count, int64_t warm,
                  cb_mqtt_result *result) {
  memset(result, 0, sizeof *result);
  int fd = connect_loopback(port);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int status = -1;
  if (fd < 0 || tfd < 0 || epfd < 0) goto done;
  // CONNECT (clean session, keepalive 60 s, client id "w6-c") and its CONNACK, blocking: setup.
  static const uint8_t connect_packet[] = {0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60,
                                           0,    4,  'w', '6', '-', 'c'};
  uint8_t ack[4];
  if (write_all(fd, connect_packet, sizeof connect_packet) < 0) goto done;
  size_t got = 0;
  while (got < 4) {
    ssize_t n = read(fd, ack + got, 4 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) goto done;
    got += (size_t)n;
  }
  if (ack[0] != 0x20 || ack[3] != 0) goto done;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) goto done;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) < 0) goto done;
  ev.data.u32 = 1;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) goto done;

  size_t topic_length = strlen(topic);
  int64_t start = cb_now_ns();
  struct itimerspec spec = {.it_interval = {period_ns / 1000000000, period_ns % 1000000000},
                            .it_value = {(start + period_ns) / 1000000000, (start + period_ns) % 1000000000}};
  if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &spec, NULL) < 0) goto done;
  int64_t k = 0, published = 0, acked = 0, cpu_warm = cb_thread_cpu_ns(), at_warm = 0;
  uint16_t next_id = 1;
  uint8_t in[4096];
  size_t in_count = 0;
  // Runs through `count` grid deadlines, then (QoS 1) until every PUBACK is in, 2 s at most.
  int64_t give_up = 0;
  while (k < count || (qos == 1 && acked < published)) {
    if (k >= count && give_up == 0) give_up = cb_now_ns() + 2000000000;
    if (give_up != 0 && cb_now_ns() > give_up) break;
    struct epoll_event events[2];
    int ready = epoll_wait(epfd, events, 2, give_up != 0 ? 100 : -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) goto done;
    for (int e = 0; e < ready; e++) {
      if (events[e].data.u32 == 0) {
        uint64_t expirations;
        if (read(tfd, &expirations, sizeof expirations) != sizeof expirations) continue;
        if (k >= count) continue;
        k += (int64_t)expirations;
        result->missed += (int64_t)expirations - 1;
        // One reading per wake: PUBLISH topic, [packet id], payload.
        uint8_t packet[256];
        uint8_t payload[24];
        size_t payload_length = cb_w6_payload(payload, published);
        size_t remaining = 2 + topic_length + (qos ? 2 : 0) + payload_length;
        size_t n = 0;
        packet[n++] = (uint8_t)(0x30 | (qos << 1));
        n += put_length(packet + n, remaining);
        packet[n++] = (uint8_t)(topic_length >> 8);
        packet[n++] = (uint8_t)topic_length;
        memcpy(packet + n, topic, topic_length);
        n += topic_length;
        if (qos) {
          packet[n++] = (uint8_t)(next_id >> 8);
          packet[n++] = (uint8_t)next_id;
          next_id = next_id == 65535 ? 1 : next_id + 1;
        }
        memcpy(packet + n, payload, payload_length);
        n += payload_length;
        ssize_t w = write(fd, packet, n);
        if (w != (ssize_t)n) goto done;  // a local broker always has room: not measured here
        published++;
        if (published == warm) {
          cpu_warm = cb_thread_cpu_ns();
          at_warm = published;
        }
      } else {
        // PUBACKs (4 bytes each: 0x40 2 id id); anything else from the broker is skipped.
        for (;;) {
          ssize_t n = read(fd, in + in_count, sizeof in - in_count);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0 && errno == EAGAIN) break;
          if (n <= 0) goto done;
          in_count += (size_t)n;
          size_t i = 0;
          while (in_count - i >= 2) {
            size_t length = in[i + 1];  // PUBACK's remaining length is 2: one byte
            if (in_count - i < 2 + length) break;
            if (in[i] == 0x40) acked++;
            i += 2 + length;
          }
          memmove(in, in + i, in_count - i);
          in_count -= i;
        }
      }
    }
  }
  result->cpu_ns = cb_thread_cpu_ns() - cpu_warm;
  result->steady_readings = published - at_warm;
  result->readings = published;
  result->acked = acked;
  result->wall_ns = cb_now_ns() - start;
  static const uint8_t disconnect_packet[] = {0xE0, 0};
  (void)!write(fd, disconnect_packet, sizeof disconnect_packet);
  status = 0;
done:
  if (epfd >= 0) close(epfd);
  if (tfd >= 0) close(tfd);
  if (fd >= 0) close(fd);
  return status;
}
