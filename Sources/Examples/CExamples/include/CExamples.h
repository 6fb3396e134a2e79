// What the ThreadWork example needs from C and nothing else of the project does: start a
// thread and let it sleep. Embedded Swift has no Foundation `Thread`; pthread_t stays in C.
#ifndef SENSORLOOP_CEXAMPLES_H
#define SENSORLOOP_CEXAMPLES_H

// Starts `start(arg)` on a new detached thread; returns 0 or the error number, as
// pthread_create does. The corresponding C functions are pthread_create and pthread_detach.
int ce_thread_start_detached(void *(*start)(void *), void *arg);

// Sleeps the calling thread for `ms` milliseconds (never call it on the loop thread).
// The corresponding C function is nanosleep.
void ce_sleep_ms(long ms);

#endif
