// See CExamples.h.
#include "CExamples.h"

#include <pthread.h>
#include <time.h>

int ce_thread_start_detached(void *(*start)(void *), void *arg) {
  pthread_t thread;
  int status = pthread_create(&thread, NULL, start, arg);
  if (status == 0) pthread_detach(thread);
  return status;
}

void ce_sleep_ms(long ms) {
  struct timespec wait = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&wait, &wait) != 0) {
  }
}
