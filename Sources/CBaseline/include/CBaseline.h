// CBaseline: the hand-written C epoll loops sensorloop is measured against (BENCH.md), and the
// few harness pieces both implementations share (the stamping writer thread, clocks, CPU time,
// child processes), so that the harness is identical on both sides of every ratio.
#ifndef SENSORLOOP_CBASELINE_H
#define SENSORLOOP_CBASELINE_H

#include <stddef.h>
#include <stdint.h>

// ---- clocks -------------------------------------------------------------------------------

/// CLOCK_MONOTONIC in nanoseconds.
int64_t cb_now_ns(void);

/// CPU time (user + system) of the whole process, in nanoseconds.
int64_t cb_process_cpu_ns(void);

/// Waits until CLOCK_MONOTONIC reaches `deadline_ns`: sleeps until shortly before it (timer
/// slack makes sleeps late by up to 50 µs), then spins, so edge and write times stay on a grid.
void cb_wait_until(int64_t deadline_ns);

/// Adds 1 to the eventfd `fd` (a write of 8 bytes); returns 0, or -1 with errno set.
int cb_eventfd_signal(int fd);

// ---- CPU placement -----------------------------------------------------------------------

/// CPUs the process may run on (its affinity mask when the benchmark started).
int cb_cpu_count(void);

/// The `index`th CPU (from 0) of that mask, or -1.
int cb_cpu_at(int index);

/// Pins the calling thread to `cpu` (or, for -1, restores the process's original CPU set).
/// Returns 0, or -1 with errno set.
int cb_pin_thread(int cpu);

/// The CPU helper threads (the W2 writer, the W5 edge driver) pin themselves to; -1: none.
void cb_set_helper_cpu(int cpu);

/// The CPU set by `cb_set_helper_cpu`.
int cb_helper_cpu(void);

// ---- W1: ping-pong ------------------------------------------------------------------------

/// Two callbacks that wake each other through a ready ring of function pointers, for `round_trips`
/// round trips (two hops each). Returns the elapsed nanoseconds.
int64_t cb_w1_pingpong(int64_t round_trips);

/// Two callbacks that wake each other through two eventfds in one epoll loop (a write, an
/// epoll_wait and a read per hop). Returns the elapsed nanoseconds, or -1 with errno set.
int64_t cb_w1_eventfd(int64_t round_trips);

// ---- W2: eventfd latency ------------------------------------------------------------------

/// A thread that stores a CLOCK_MONOTONIC stamp and then writes an eventfd, on a fixed grid.
typedef struct cb_writer cb_writer;

/// Starts a writer: `count` writes of 1 to `fd`, every `period_ns` from one period after now,
/// each preceded by a store of the current time to the stamp `cb_writer_stamp` reads.
/// Returns NULL with errno set when the thread cannot start.
cb_writer *cb_writer_start(int fd, int64_t period_ns, int64_t count);

/// The stamp stored just before the latest write (0 before the first).
int64_t cb_writer_stamp(const cb_writer *writer);

/// Writes counted so far (each is counted just before it is made).
int64_t cb_writer_writes(const cb_writer *writer);

/// Waits for the writer to finish its writes and frees it.
void cb_writer_join(cb_writer *writer);

/// A non-blocking eventfd (EFD_NONBLOCK | EFD_CLOEXEC), or -1 with errno set.
int cb_eventfd(void);

/// Closes `fd`.
void cb_close(int fd);

/// The bare epoll loop waiting on `fd` (written by a `cb_writer` of `count` writes): records
/// now - stamp in `samples` (room for `capacity`) each time the fd is readable. Returns the number
/// of samples, or -1 with errno set.
int64_t cb_w2_wait(int fd, cb_writer *writer, int64_t count, int64_t *samples, int64_t capacity);

/// W2's wake path for callgrind (`sensorloop-bench instructions`): the loop thread writes an
/// eventfd and waits for it in a bare epoll loop, `wakes` times (epoll_wait, read, a clock read,
/// write). Returns the wakes done, or -1 with errno set.
int64_t cb_w2_selfwake(int64_t wakes);

// ---- W3: periodic timer -------------------------------------------------------------------

/// What a periodic timer run measured.
typedef struct {
  /// Ticks handled (timer expirations that ran the handler).
  int64_t ticks;
  /// Grid deadlines skipped because the loop was late by more than a period.
  int64_t missed;
  /// Process CPU time over the run, nanoseconds.
  int64_t cpu_ns;
  /// Wall time over the run, nanoseconds.
  int64_t wall_ns;
} cb_ticker_result;

/// One absolute periodic timerfd at `period_ns` for `count` grid deadlines (start + k * period),
/// in a bare epoll loop. Records the lateness of each tick in `samples` (room for `count`): now -
/// the oldest grid deadline its read covers, as a `Ticker` with `.skip` measures it. Returns 0,
/// or -1 with errno set.
int cb_w3_ticker(int64_t period_ns, int64_t count, int64_t *samples, cb_ticker_result *result);

/// W3's C ticker for `sensorloop-bench w3-tail`: the loop of `cb_w3_ticker` on a grid starting
/// at `first_ns`, recording each tick's deadline (the oldest grid deadline its read covers) and
/// delivery time (CLOCK_MONOTONIC ns) in `deadlines` and `delivered` (room for `count`). Returns
/// the ticks, or -1 with errno set.
int64_t cb_w3_ticker_stamped(int64_t first_ns, int64_t period_ns, int64_t count,
                             int64_t *deadlines, int64_t *delivered);

/// `cb_w3_ticker_stamped` on a thread of its own, pinned to `cpu` (-1: not pinned).
typedef struct cb_w3_tail cb_w3_tail;

/// Starts the thread; NULL with errno set on failure.
cb_w3_tail *cb_w3_tail_start(int cpu, int64_t first_ns, int64_t period_ns, int64_t count,
                             int64_t *deadlines, int64_t *delivered);

/// Waits for the thread; returns its ticks (or -1) and frees `tail`.
int64_t cb_w3_tail_join(cb_w3_tail *tail);

// ---- W5: GPIO edges ------------------------------------------------------------------------

/// The bare epoll loop reading GPIO v1 edge records (`struct gpioevent_data`, 16 bytes: u64
/// timestamp in ns, u32 id) from `fd`, 16 per read as the kernel's FIFO holds, until `done_fd`
/// (an eventfd) is written; then it drains `fd` once more and returns. Records now - timestamp
/// of each edge in `samples` (room for `capacity`). Returns the edges read, or -1 with errno set.
int64_t cb_w5_wait(int fd, int done_fd, int64_t *samples, int64_t capacity);

// ---- W6: MQTT publish -------------------------------------------------------------------------

/// User + system CPU time of the calling thread (`getrusage(RUSAGE_THREAD)`), nanoseconds.
int64_t cb_thread_cpu_ns(void);

/// A loopback TCP port nobody listens on now (bound to 0, read, closed), or -1.
int cb_free_port(void);

/// Starts the broker `path` with `-c config`, its output to /dev/null. Returns its pid, or -1
/// with errno set.
int cb_broker_start(const char *path, const char *config);

/// Whether a TCP connect to 127.0.0.1:`port` succeeds now (the broker is listening).
int cb_broker_ready(uint16_t port);

/// SIGKILLs the broker `pid` and waits for it.
void cb_broker_stop(int pid);

/// Reading `reading`'s payload, `20.000` to `20.999` (`value` thousandths), written to `out`
/// (room for 24); returns its length. Both sides publish the same bytes.
size_t cb_w6_payload(uint8_t *out, int64_t reading);

/// What one W6 run did.
typedef struct {
  /// Readings published.
  int64_t readings;
  /// PUBACKs received (QoS 1).
  int64_t acked;
  /// Grid deadlines missed (the loop was late by more than a period).
  int64_t missed;
  /// Readings in the steady window (from the `warm`th reading to the end).
  int64_t steady_readings;
  /// The loop thread's CPU time over the steady window, nanoseconds.
  int64_t cpu_ns;
  /// Wall time of the run, nanoseconds.
  int64_t wall_ns;
} cb_mqtt_result;

/// Connects to the broker on 127.0.0.1:`port` (CONNECT and CONNACK, blocking: setup), then
/// publishes one reading to `topic` at `qos` (0 or 1) on each expiration of an absolute periodic
/// timerfd (`period_ns`) for `count` grid deadlines, in a bare epoll loop over the non-blocking
/// socket, matching PUBACKs (QoS 1: until all are in, 2 s at most). Returns 0, or -1 with errno
/// set.
int cb_w6_publish(uint16_t port, int qos, const char *topic, int64_t period_ns, int64_t count, int64_t warm,
                  cb_mqtt_result *result);

// ---- W4: idle footprint -------------------------------------------------------------------

/// `tasks` periodic timerfds at `period_ns` (phases spread over one period) in one epoll loop,
/// for `duration_ns`. Returns the number of expirations handled, or -1 with errno set.
int64_t cb_w4_idle(int tasks, int64_t period_ns, int64_t duration_ns);

/// How a child process ended and what it used. (No peak RSS: after exec, `ru_maxrss` includes the
/// parent's peak, so children report their own `VmHWM`.)
typedef struct {
  /// Exit status (as from `WEXITSTATUS`), or -1 when it did not exit normally.
  int exit_status;
  /// User + system CPU time, nanoseconds.
  int64_t cpu_ns;
  /// Wall time from spawn to exit, nanoseconds.
  int64_t wall_ns;
} cb_child_result;

/// Runs `argv[0]` (a path) with `argv` (NULL-terminated), collects up to `capacity - 1` bytes of
/// its standard output in `out` (NUL-terminated) and its resource use. Returns 0, or -1 with
/// errno set when it cannot be started.
int cb_run_child(char *const argv[], char *out, size_t capacity, cb_child_result *result);

/// The size in bytes of the file at `path` after `strip` (a stripped copy in /tmp; the file
/// itself is untouched), or its plain size when `strip` is not available; -1 when it is missing.
int64_t cb_stripped_size(const char *path, const char *strip_tool);

#endif
