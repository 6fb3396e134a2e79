// Malloc interposer for allocation counting. Each entry point bumps a thread-local and a
// process-wide counter, then forwards to glibc's internal allocator (__libc_*), which stays
// the allocator of record: free() needs no counting and no bookkeeping.
//
// Under AddressSanitizer or ThreadSanitizer (`swift build --sanitize=address|thread`, which
// compiles this file with -fsanitize=...), the sanitizer's runtime owns malloc: a second
// interposer would hand it memory it never saw (and runs instrumented code before the runtime
// is up: the ASan test binary crashed at startup). There the same counters are bumped from the
// sanitizer allocator's own malloc hook instead, so the allocation tests still count.
#define _GNU_SOURCE
#include "AllocCounter.h"

#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)  // GCC's spelling
#define SL_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SL_UNDER_SANITIZER 1
#endif
#endif

static __thread uint64_t thread_allocs;
static _Atomic uint64_t process_allocs;
static _Atomic int active;

static inline void count(void) {
  thread_allocs++;
  atomic_fetch_add_explicit(&process_allocs, 1, memory_order_relaxed);
  atomic_store_explicit(&active, 1, memory_order_relaxed);
}

#ifdef SL_UNDER_SANITIZER
// From <sanitizer/allocator_interface.h>: hooks the sanitizer allocator calls on every user
// allocation (malloc, calloc, realloc, the aligned family, operator new).
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void on_malloc(const volatile void *pointer, size_t size) {
  (void)pointer;
  (void)size;
  count();
}

static void on_free(const volatile void *pointer) { (void)pointer; }

__attribute__((constructor)) static void install_hooks(void) {
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}

#else
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

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
#endif

uint64_t sl_alloc_count_thread(void) { return thread_allocs; }

uint64_t sl_alloc_count_process(void) {
  return atomic_load_explicit(&process_allocs, memory_order_relaxed);
}

int sl_alloc_counter_active(void) { return atomic_load_explicit(&active, memory_order_relaxed); }
