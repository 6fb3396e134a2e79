// The W4 C baseline as a program of its own, so its resident set is a plain C process's: the
// footprint script (Sources/sensorloop-bench/footprint.sh) compiles this file with
// -DCBASELINE_IDLE_MAIN together with baseline.c and the allocation counter. In the CBaseline
// library (no macro) it is empty.
#ifdef CBASELINE_IDLE_MAIN
#include <stdio.h>
#include <string.h>

#include "AllocCounter.h"
#include "CBaseline.h"

// The peak resident set in KiB (VmHWM), or -1. Not ru_maxrss: exec records the replaced image's
// peak into it (after posix_spawn's vfork, the parent's), while VmHWM is this image's alone.
static long peak_resident_kib(void) {
  FILE *status = fopen("/proc/self/status", "r");
  if (status == NULL) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, status) != NULL)
    if (strncmp(line, "VmHWM:", 6) == 0) sscanf(line + 6, "%ld", &kib);
  fclose(status);
  return kib;
}

int main(void) {
  // Startup is over once the loop begins: count the allocations the loop itself makes.
  uint64_t before = sl_alloc_count_process();
  int64_t expirations = cb_w4_idle(16, 1000000000, 3000000000);
  uint64_t allocs = sl_alloc_count_process() - before;
  if (expirations < 0) {
    perror("cb_w4_idle");
    return 1;
  }
  printf("expirations=%lld allocs=%llu rss_kib=%ld\n", (long long)expirations,
         (unsigned long long)allocs, peak_resident_kib());
  return 0;
}
#endif
