// CGPIOD: libgpiod v1 (1.6.3), the one system library sensorloop links, plus the kernel's v1
// GPIO uAPI header, whose `struct gpioevent_data` is the record the mock backend writes so that
// libgpiod decodes mock events exactly as it decodes the kernel's. Two shims, for calls Swift
// cannot make itself.
#include <gpiod.h>
#include <linux/gpio.h>
#include <fcntl.h>
#include <sys/ioctl.h>

// ioctl is variadic, which Swift cannot call. FIONREAD gives the bytes a pipe holds unread: the
// mock uses it to emulate the kernel's 16-event FIFO (which drops the newest event when full).
static inline int cg_unread_bytes(int fd, int *bytes) { return ioctl(fd, FIONREAD, bytes); }

// fcntl is variadic, which Swift cannot call (CLinux has the same shim, but its textual copy of
// the libc headers clashes with this module's when one Swift file imports both). The mock
// keeps a duplicate of each pipe's read end so writing never raises SIGPIPE.
static inline int cg_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

// The mock writes `struct gpioevent_data` records that libgpiod reads as the kernel's: 16 bytes
// (u64 timestamp, u32 id, 4 bytes of tail padding) on x86_64, aarch64 and armv7 EABI, where a
// u64 is 8-byte aligned. Every build, cross builds included, checks it here.
_Static_assert(sizeof(struct gpioevent_data) == 16, "gpioevent_data is not the v1 kernel's 16 bytes");
_Static_assert(__builtin_offsetof(struct gpioevent_data, id) == 8, "gpioevent_data.id is not at 8");
