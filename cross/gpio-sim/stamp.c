/* stamp: CLOCK_MONOTONIC for the gpio-sim guest's shell script (busybox has no monotonic clock).
 *
 *   stamp now        prints the current CLOCK_MONOTONIC time in nanoseconds
 *   stamp lines      copies stdin to stdout, each line prefixed with "<ns> ": the time this
 *                    process read it
 *
 * sensorloop's records carry the kernel's edge timestamp (CLOCK_MONOTONIC, taken when the
 * gpio-sim line changed); `sensorloop | stamp lines` adds the time each record reached the
 * reader, so their difference bounds the edge -> task -> output latency from above.
 * Built static for aarch64 by cross/gpio-sim/run; only for the emulated test board. */

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "now") == 0) {
    printf("%lld\n", now_ns());
    return 0;
  }
  if (argc != 2 || strcmp(argv[1], "lines") != 0) {
    fputs("usage: stamp now | stamp lines\n", stderr);
    return 2;
  }
  char buffer[4096];
  int at_line_start = 1;
  for (;;) {
    ssize_t n = read(0, buffer, sizeof buffer);
    if (n <= 0) break;
    long long t = now_ns();
    for (ssize_t i = 0; i < n; i++) {
      if (at_line_start) printf("%lld ", t);
      putchar(buffer[i]);
      at_line_start = buffer[i] == '\n';
    }
    fflush(stdout);
  }
  return 0;
}
