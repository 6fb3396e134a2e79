// Harness pieces shared by both sides of every measurement: the W2 writer thread that stamps
// and then signals an eventfd, and child processes (W4) with their peak RSS and CPU time.
// Keeping them in C, used identically by the baseline and by sensorloop, keeps the ratios fair.
#define _GNU_SOURCE
#include "CBaseline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static cpu_set_t original_cpus;
static int original_cpus_saved;
static _Atomic int helper_cpu = -1;

static void save_original_cpus(void) {
  if (original_cpus_saved) return;
  if (sched_getaffinity(0, sizeof original_cpus, &original_cpus) == 0) original_cpus_saved = 1;
}

int cb_cpu_count(void) {
  save_original_cpus();
  return original_cpus_saved ? CPU_COUNT(&original_cpus) : 1;
}

int cb_cpu_at(int index) {
  save_original_cpus();
  for (int cpu = 0, seen = 0; original_cpus_saved && cpu < CPU_SETSIZE; cpu++)
    if (CPU_ISSET(cpu, &original_cpus) && seen++ == index) return cpu;
  return -1;
}

int cb_pin_thread(int cpu) {
  save_original_cpus();
  cpu_set_t set;
  if (cpu < 0) {
    if (!original_cpus_saved) return 0;
    set = original_cpus;
  } else {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  }
  int error = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return 0;
}

void cb_set_helper_cpu(int cpu) { atomic_store(&helper_cpu, cpu); }

int cb_helper_cpu(void) { return atomic_load(&helper_cpu); }

struct cb_writer {
  pthread_t thread;
  int fd;
  int64_t period_ns, count;
  _Atomic int64_t stamp;
  _Atomic int64_t writes;
};

static void *writer_main(void *argument) {
  cb_writer *writer = argument;
  if (cb_helper_cpu() >= 0) cb_pin_thread(cb_helper_cpu());
  int64_t next = cb_now_ns();
  for (int64_t i = 0; i < writer->count; i++) {
    next += writer->period_ns;
    struct timespec at = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
    // The stamp is stored before the write, so the reader always sees this write's stamp or a
    // later one: the measured latency is never longer than the true one.
    // The write is counted before it is made, so a reader woken by the last write sees the
    // full count and can stop.
    atomic_store_explicit(&writer->stamp, cb_now_ns(), memory_order_release);
    atomic_fetch_add_explicit(&writer->writes, 1, memory_order_release);
    uint64_t one = 1;
    while (write(writer->fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
  return NULL;
}

void cb_wait_until(int64_t deadline_ns) {
  int64_t sleep_until = deadline_ns - 80000;
  if (sleep_until > cb_now_ns()) {
    struct timespec at = {.tv_sec = sleep_until / 1000000000, .tv_nsec = sleep_until % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
  }
  while (cb_now_ns() < deadline_ns) {
  }
}

int cb_eventfd_signal(int fd) {
  uint64_t one = 1;
  ssize_t n;
  do n = write(fd, &one, sizeof one);
  while (n < 0 && errno == EINTR);
  return n == sizeof one ? 0 : -1;
}

cb_writer *cb_writer_start(int fd, int64_t period_ns, int64_t count) {
  cb_writer *writer = calloc(1, sizeof *writer);
  if (writer == NULL) return NULL;
  writer->fd = fd;
  writer->period_ns = period_ns;
  writer->count = count;
  int error = pthread_create(&writer->thread, NULL, writer_main, writer);
  if (error != 0) {
    free(writer);
    errno = error;
    return NULL;
  }
  return writer;
}

int64_t cb_writer_stamp(const cb_writer *writer) {
  return atomic_load_explicit(&writer->stamp, memory_order_acquire);
}

int64_t cb_writer_writes(const cb_writer *writer) {
  return atomic_load_explicit(&writer->writes, memory_order_acquire);
}

void cb_writer_join(cb_writer *writer) {
  pthread_join(writer->thread, NULL);
  free(writer);
}

int cb_run_child(char *const argv[], char *out, size_t capacity, cb_child_result *result) {
  int pipe_fd[2];
  if (pipe2(pipe_fd, O_CLOEXEC) < 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fd[1], STDOUT_FILENO);
  int64_t start = cb_now_ns();
  pid_t pid;
  int error = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fd[1]);
  if (error != 0) {
    close(pipe_fd[0]);
    errno = error;
    return -1;
  }
  size_t used = 0;
  for (;;) {
    ssize_t n = read(pipe_fd[0], out + used, capacity - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    if (used == capacity - 1) break;
  }
  out[used] = 0;
  close(pipe_fd[0]);
  int status;
  struct rusage usage;
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) return -1;
  }
  result->wall_ns = cb_now_ns() - start;
  result->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result->cpu_ns = ((int64_t)usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000000 +
                   ((int64_t)usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000;
  return 0;
}

int64_t cb_stripped_size(const char *path, const char *strip_tool) {
  struct stat info;
  if (stat(path, &info) < 0) return -1;
  char copy[64];
  snprintf(copy, sizeof copy, "/tmp/sensorloop-bench-strip-%d", (int)getpid());
  char *argv[] = {(char *)"/usr/bin/env", (char *)strip_tool, (char *)"-o", copy, (char *)path,
                  NULL};
  char ignored[256];
  cb_child_result child;
  int64_t size = info.st_size;
  if (cb_run_child(argv, ignored, sizeof ignored, &child) == 0 && child.exit_status == 0 &&
      stat(copy, &info) == 0)
    size = info.st_size;
  unlink(copy);
  return size;
}

struct cb_w3_tail {
  pthread_t thread;
  int cpu;
  int64_t first_ns, period_ns, count;
  int64_t *deadlines, *delivered;
  int64_t ticks;
};

static void *w3_tail_main(void *argument) {
  cb_w3_tail *tail = argument;
  if (tail->cpu >= 0) cb_pin_thread(tail->cpu);
  tail->ticks = cb_w3_ticker_stamped(tail->first_ns, tail->period_ns, tail->count, tail->deadlines,
                                     tail->delivered);
  return NULL;
}

cb_w3_tail *cb_w3_tail_start(int cpu, int64_t first_ns, int64_t period_ns, int64_t count,
                             int64_t *deadlines, int64_t *delivered) {
  cb_w3_tail *tail = calloc(1, sizeof *tail);
  if (tail == NULL) return NULL;
  *tail = (cb_w3_tail){.cpu = cpu, .first_ns = first_ns, .period_ns = period_ns, .count = count,
                       .deadlines = deadlines, .delivered = delivered};
  int error = pthread_create(&tail->thread, NULL, w3_tail_main, tail);
  if (error != 0) {
    free(tail);
    errno = error;
    return NULL;
  }
  return tail;
}

int64_t cb_w3_tail_join(cb_w3_tail *tail) {
  pthread_join(tail->thread, NULL);
  int64_t ticks = tail->ticks;
  free(tail);
  return ticks;
}
