// The C baselines of BENCH.md's workloads: what a careful C programmer writes by hand for each
// job with epoll, eventfd and timerfd, and nothing more. sensorloop's figures are reported as
// ratios to these, measured in the same process run.
#define _GNU_SOURCE
#include "CBaseline.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int64_t cb_now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int64_t cb_process_cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static struct timespec timespec_of(int64_t ns) {
  struct timespec t = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
  return t;
}

// ---- W1: two callbacks through a ring of function pointers ---------------------------------
// The smallest honest C scheduler: a task is a callback and a queued flag; waking a task that is
// not queued appends it to a ready ring; the loop pops and calls until the ring is empty.

typedef struct ring_loop ring_loop;
typedef void (*ring_callback)(ring_loop *loop, int self);

enum { RING_CAPACITY = 4 };  // power of two, more than the task count

struct ring_loop {
  ring_callback callback[2];
  unsigned char queued[2];
  unsigned char ring[RING_CAPACITY];
  unsigned head, count;
  int64_t hops, limit;
};

static inline void ring_wake(ring_loop *loop, int task) {
  if (loop->queued[task]) return;
  loop->queued[task] = 1;
  loop->ring[(loop->head + loop->count) & (RING_CAPACITY - 1)] = (unsigned char)task;
  loop->count++;
}

static void ring_hop(ring_loop *loop, int self) {
  if (++loop->hops >= loop->limit) return;  // nothing woken: the ring drains and the loop ends
  ring_wake(loop, 1 - self);
}

int64_t cb_w1_pingpong(int64_t round_trips) {
  ring_loop loop = {.callback = {ring_hop, ring_hop}, .limit = 2 * round_trips};
  int64_t start = cb_now_ns();
  ring_wake(&loop, 0);
  while (loop.count > 0) {
    int task = loop.ring[loop.head];
    loop.head = (loop.head + 1) & (RING_CAPACITY - 1);
    loop.count--;
    loop.queued[task] = 0;
    loop.callback[task](&loop, task);
  }
  return cb_now_ns() - start;
}

// ---- W1 variant: each hop crosses an eventfd ------------------------------------------------

static int write_one(int fd) {
  uint64_t one = 1;
  ssize_t n;
  do n = write(fd, &one, sizeof one);
  while (n < 0 && errno == EINTR);
  return n == sizeof one ? 0 : -1;
}

static int epoll_add(int epfd, int fd, uint32_t data) {
  struct epoll_event event = {.events = EPOLLIN, .data.u32 = data};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

int64_t cb_w1_eventfd(int64_t round_trips) {
  int fd[2] = {cb_eventfd(), cb_eventfd()};
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int64_t result = -1;
  if (fd[0] < 0 || fd[1] < 0 || epfd < 0) goto done;
  if (epoll_add(epfd, fd[0], 0) < 0 || epoll_add(epfd, fd[1], 1) < 0) goto done;
  int64_t hops = 0, limit = 2 * round_trips;
  int64_t start = cb_now_ns();
  if (write_one(fd[0]) < 0) goto done;
  while (hops < limit) {
    struct epoll_event events[2];
    int n = epoll_wait(epfd, events, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) goto done;
    for (int i = 0; i < n; i++) {
      int self = (int)events[i].data.u32;
      uint64_t value;
      if (read(fd[self], &value, sizeof value) < 0 && errno != EAGAIN) goto done;
      if (++hops < limit && write_one(fd[1 - self]) < 0) goto done;
    }
  }
  result = cb_now_ns() - start;
done:
  if (epfd >= 0) close(epfd);
  if (fd[0] >= 0) close(fd[0]);
  if (fd[1] >= 0) close(fd[1]);
  return result;
}

// ---- W2: eventfd latency in a bare epoll loop -----------------------------------------------

int cb_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void cb_close(int fd) { close(fd); }

int64_t cb_w2_wait(int fd, cb_writer *writer, int64_t count, int64_t *samples, int64_t capacity) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -1;
  if (epoll_add(epfd, fd, 0) < 0) {
    close(epfd);
    return -1;
  }
  int64_t writes = 0, n = 0;
  while (writes < count) {
    struct epoll_event event;
    int ready = epoll_wait(epfd, &event, 1, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    uint64_t value;
    if (read(fd, &value, sizeof value) != sizeof value) continue;
    int64_t now = cb_now_ns();
    writes += (int64_t)value;
    if (n < capacity) samples[n++] = now - cb_writer_stamp(writer);
  }
  close(epfd);
  return writes < count ? -1 : n;
}

// ---- W2's wake path, counted by callgrind: the loop thread writes the eventfd itself ----------
// `sensorloop-bench instructions` counts instructions per wake; a writer thread would be counted
// too, so the loop writes the fd at the end of each wake (the same on sensorloop's side).

int64_t cb_w2_selfwake(int64_t wakes) {
  int fd = cb_eventfd();
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int64_t n = -1;
  if (fd < 0 || epfd < 0 || epoll_add(epfd, fd, 0) < 0) goto done;
  int64_t last = cb_now_ns(), sum = 0;
  if (write_one(fd) < 0) goto done;
  n = 0;
  while (n < wakes) {
    struct epoll_event event;
    int ready = epoll_wait(epfd, &event, 1, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    uint64_t value;
    if (read(fd, &value, sizeof value) != sizeof value) continue;
    int64_t now = cb_now_ns();
    sum += now - last;  // what W2 records: a clock read and a difference
    last = now;
    if (++n < wakes && write_one(fd) < 0) break;
  }
  __asm__ volatile("" : : "r"(sum));  // keep the recorded figure alive
done:
  if (epfd >= 0) close(epfd);
  if (fd >= 0) close(fd);
  return n;
}

// ---- W3: one absolute periodic timerfd -------------------------------------------------------

int cb_w3_ticker(int64_t period_ns, int64_t count, int64_t *samples, cb_ticker_result *result) {
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int status = -1;
  if (tfd < 0 || epfd < 0 || epoll_add(epfd, tfd, 0) < 0) goto done;
  int64_t start = cb_now_ns();
  int64_t cpu_start = cb_process_cpu_ns();
  struct itimerspec spec = {.it_interval = timespec_of(period_ns),
                            .it_value = timespec_of(start + period_ns)};
  if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &spec, NULL) < 0) goto done;
  int64_t k = 0, ticks = 0, missed = 0;
  while (k < count) {
    struct epoll_event event;
    int ready = epoll_wait(epfd, &event, 1, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) goto done;
    uint64_t expirations;
    if (read(tfd, &expirations, sizeof expirations) != sizeof expirations) continue;
    int64_t now = cb_now_ns();
    // Lateness is measured from the oldest grid deadline this read covers, start + (k + 1) *
    // period, as sensorloop's Ticker measures it (`.skip` delivers the oldest overdue tick and
    // counts the others missed). Measured from the newest one, a stall of several periods
    // showed as less than one period: the C side's max lateness could never exceed ~1 ms.
    samples[ticks++] = now - (start + (k + 1) * period_ns);
    k += (int64_t)expirations;  // the newest grid deadline passed is start + k * period
    missed += (int64_t)expirations - 1;
  }
  result->ticks = ticks;
  result->missed = missed;
  result->cpu_ns = cb_process_cpu_ns() - cpu_start;
  result->wall_ns = cb_now_ns() - start;
  status = 0;
done:
  if (epfd >= 0) close(epfd);
  if (tfd >= 0) close(tfd);
  return status;
}

// ---- W5: GPIO edge records in a bare epoll loop ----------------------------------------------

struct edge_record {  // struct gpioevent_data of the v1 GPIO uAPI
  uint64_t timestamp;
  uint32_t id;
};

static int64_t drain_edges(int fd, int64_t *samples, int64_t capacity, int64_t n) {
  for (;;) {
    struct edge_record records[16];
    ssize_t bytes = read(fd, records, sizeof records);
    if (bytes < 0 && errno == EINTR) continue;
    if (bytes <= 0) return n;
    for (ssize_t i = 0; i < bytes / (ssize_t)sizeof records[0]; i++) {
      int64_t now = cb_now_ns();
      if (n < capacity) samples[n] = now - (int64_t)records[i].timestamp;
      n++;
    }
    if (bytes < (ssize_t)sizeof records) return n;
  }
}

int64_t cb_w5_wait(int fd, int done_fd, int64_t *samples, int64_t capacity) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -1;
  struct epoll_event edge = {.events = EPOLLIN | EPOLLET, .data.u32 = 0};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &edge) < 0 || epoll_add(epfd, done_fd, 1) < 0) {
    close(epfd);
    return -1;
  }
  int64_t n = 0;
  for (int done = 0; !done;) {
    struct epoll_event events[2];
    int ready = epoll_wait(epfd, events, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (int i = 0; i < ready; i++) {
      if (events[i].data.u32 == 1) done = 1;
    }
    n = drain_edges(fd, samples, capacity, n);
  }
  close(epfd);
  return n;
}

// ---- W4: idle periodic tasks -----------------------------------------------------------------

enum { IDLE_MAX_TASKS = 64 };

int64_t cb_w4_idle(int tasks, int64_t period_ns, int64_t duration_ns) {
  if (tasks < 1 || tasks > IDLE_MAX_TASKS) {
    errno = EINVAL;
    return -1;
  }
  int tfd[IDLE_MAX_TASKS];
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int opened = 0;
  int64_t result = -1;
  if (epfd < 0) return -1;
  int64_t start = cb_now_ns();
  for (; opened < tasks; opened++) {
    tfd[opened] = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd[opened] < 0) goto done;
    // Phases spread over one period, so the loop wakes `tasks` times a period, not once.
    int64_t first = start + period_ns * (opened + 1) / tasks;
    struct itimerspec spec = {.it_interval = timespec_of(period_ns),
                              .it_value = timespec_of(first)};
    if (timerfd_settime(tfd[opened], TFD_TIMER_ABSTIME, &spec, NULL) < 0 ||
        epoll_add(epfd, tfd[opened], (uint32_t)opened) < 0) {
      opened++;
      goto done;
    }
  }
  int64_t end = start + duration_ns, expirations = 0;
  for (;;) {
    int64_t left = end - cb_now_ns();
    if (left <= 0) break;
    struct epoll_event events[IDLE_MAX_TASKS];
    int n = epoll_wait(epfd, events, tasks, (int)((left + 999999) / 1000000));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) goto done;
    for (int i = 0; i < n; i++) {
      uint64_t value;
      if (read(tfd[events[i].data.u32], &value, sizeof value) == sizeof value)
        expirations += (int64_t)value;
    }
  }
  result = expirations;
done:
  for (int i = 0; i < opened; i++)
    if (tfd[i] >= 0) close(tfd[i]);
  close(epfd);
  return result;
}

// ---- W3's tail, diagnosed (`sensorloop-bench w3-tail`) -------------------------------------

int64_t cb_w3_ticker_stamped(int64_t first_ns, int64_t period_ns, int64_t count,
                             int64_t *deadlines, int64_t *delivered) {
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  int64_t result = -1;
  if (tfd < 0 || epfd < 0 || epoll_add(epfd, tfd, 0) < 0) goto done;
  struct itimerspec spec = {.it_interval = timespec_of(period_ns), .it_value = timespec_of(first_ns)};
  if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &spec, NULL) < 0) goto done;
  int64_t k = 0, ticks = 0;
  while (k < count) {
    struct epoll_event event;
    int ready = epoll_wait(epfd, &event, 1, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) goto done;
    uint64_t expirations;
    if (read(tfd, &expirations, sizeof expirations) != sizeof expirations) continue;
    delivered[ticks] = cb_now_ns();
    deadlines[ticks++] = first_ns + k * period_ns;  // the oldest grid deadline this read covers
    k += (int64_t)expirations;
  }
  result = ticks;
done:
  if (epfd >= 0) close(epfd);
  if (tfd >= 0) close(tfd);
  return result;
}
