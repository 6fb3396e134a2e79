// Process-level calls for the sensorloop executable: exit (Embedded Swift has none of its own)
// and the optional allocation counter probe.
#ifndef SENSORLOOP_CLINUX_PROCESS_H
#define SENSORLOOP_CLINUX_PROCESS_H

#include <stdint.h>
#include <stdlib.h>

/// Ends the process with `code` (runs atexit handlers; sensorloop has flushed its own output).
/// The corresponding C function is `exit`.
static inline void cl_exit(int code) { exit(code); }

/// Provided by the allocation counter (Sources/AllocCounter) when it is preloaded
/// (LD_PRELOAD) or linked in; weak, so a normal run links without it.
uint64_t sl_alloc_count_process(void) __attribute__((weak));

/// Stores the process's allocation count in `count` and returns 1 when the counter is present,
/// 0 otherwise. Exists because Swift cannot test a weak symbol for presence.
static inline int cl_alloc_count(uint64_t *count) {
  if (sl_alloc_count_process == 0) return 0;
  *count = sl_alloc_count_process();
  return 1;
}

/// The program's argument count and vector, captured before `main` runs (process.c).
/// Exists because Embedded Swift has no `CommandLine`.
int cl_argc(void);
char *const *cl_argv(void);

#endif
