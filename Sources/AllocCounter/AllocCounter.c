// Malloc interposer for allocation counting. Each entry point bumps a thread-local and a
// process-wide counter, then forwards to glibc's internal allocator (__libc_*), which stays
// the allocator of record: free() needs no counting and no bookkeeping.
#define _GNU_SOURCE
#include "AllocCounter.h"

#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static __thread uint64_t thread_allocs;
static _Atomic uint64_t process_allocs;
static _Atomic int active;

static inline void count(void) {
  thread_allocs++;
  atomic_fetch_add_explicit(&process_allocs, 1, memory_order_relaxed);
  atomic_store_explicit(&active, 1, memory_order_relaxed);
}

void *malloc(size_t size) {
  count();
  return __libc_malloc(size);
}

void *calloc(size_t count_, size_t size) {
  count();
  return __libc_calloc(count_, size);
}

void *realloc(void *pointer, size_t size) {
  count();
  return __libc_realloc(pointer, size);
}

void free(void *pointer) { __libc_free(pointer); }

void *memalign(size_t alignment, size_t size) {
  count();
  return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
  count();
  return __libc_memalign(alignment, size);
}

void *valloc(size_t size) {
  count();
  return __libc_memalign(4096, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
  count();
  if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
  void *pointer = __libc_memalign(alignment, size);
  if (pointer == NULL) return ENOMEM;
  *result = pointer;
  return 0;
}

uint64_t sl_alloc_count_thread(void) { return thread_allocs; }

uint64_t sl_alloc_count_process(void) {
  return atomic_load_explicit(&process_allocs, memory_order_relaxed);
}

int sl_alloc_counter_active(void) { return atomic_load_explicit(&active, memory_order_relaxed); }
