// Counts heap allocations made by the calling thread, so tests and the benchmark can prove a
// steady state allocates nothing. Linking this target into a program interposes malloc and
// friends for the whole process (the executable's definitions win over libc's); in a build under
// ASan or TSan it counts through the sanitizer allocator's malloc hook instead.
#ifndef SENSORLOOP_ALLOC_COUNTER_H
#define SENSORLOOP_ALLOC_COUNTER_H

#include <stdint.h>

/// Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc)
/// made so far by the calling thread.
uint64_t sl_alloc_count_thread(void);

/// Allocation calls made so far by all threads.
uint64_t sl_alloc_count_process(void);

/// Whether the interposer is active (false if libc's malloc was bound before ours).
int sl_alloc_counter_active(void);

#endif
