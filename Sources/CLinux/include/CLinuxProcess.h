// Process exit for the sensorloop executable: Swift's Embedded mode has no `exit` of its own.
#ifndef SENSORLOOP_CLINUX_PROCESS_H
#define SENSORLOOP_CLINUX_PROCESS_H

#include <stdlib.h>

/// Ends the process with `code` (runs atexit handlers; sensorloop has flushed its own output).
/// The corresponding C function is `exit`.
static inline void cl_exit(int code) { exit(code); }

#endif
