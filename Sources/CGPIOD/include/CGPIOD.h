// CGPIOD: libgpiod, loaded at run time. One board binary runs on both Raspberry Pi OS
// generations: `cg_gpiod_load` dlopens libgpiod.so.3 (libgpiod 2.x, the v2 API: trixie) or
// else libgpiod.so.2 (libgpiod 1.6, the v1 API: bookworm) and resolves the functions below
// into a fixed table once, at startup. The prototypes and opaque types are declared here, so
// no gpiod.h is needed to build, and `cg_<function>` calls through the table: dumb wrappers,
// no logic. Calling a wrapper of the API that was not loaded is a bug (a NULL call).
//
// Also: the kernel's GPIO uAPI records (`struct gpioevent_data`, v1; `struct
// gpio_v2_line_event`, v2) that the decode path reads from a line's fd and the mock writes,
// with their layouts checked at compile time, and two shims for variadic calls.
#ifndef CGPIOD_H
#define CGPIOD_H

#include <linux/gpio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// MARK: Loading

/// Which libgpiod API was loaded: 0 none (see cg_gpiod_error), 1 the v1 API (libgpiod 1.x,
/// libgpiod.so.2), 2 the v2 API (libgpiod 2.x, libgpiod.so.3).
int cg_gpiod_api(void);

/// Loads libgpiod once; returns cg_gpiod_api(). `path` NULL: the file named by
/// $SENSORLOOP_LIBGPIOD when set, else libgpiod.so.3, else libgpiod.so.2 (found by the
/// dynamic loader as any library is). A path given: that file only, its API told by its
/// symbols. A later call after a success returns the loaded API without loading again; after
/// a failure it tries again (a test may point it at another file).
int cg_gpiod_load(const char *path);

/// Why the last cg_gpiod_load failed (the loader's own text), or "" after a success.
const char *cg_gpiod_error(void);

/// The version string of the loaded library (`gpiod_api_version` / `gpiod_version_string`),
/// or "" when none is loaded.
const char *cg_gpiod_version(void);

// MARK: libgpiod v1 (1.6): types and constants as gpiod.h 1.6 declares them

struct gpiod_chip;
struct gpiod_line;
struct gpiod_chip_iter;

/// `struct gpiod_line_request_config` of libgpiod 1.6.
struct cg_v1_request_config {
  const char *consumer;
  int request_type;
  int flags;
};

enum {
  CG_V1_DIRECTION_INPUT = 2,
  CG_V1_DIRECTION_OUTPUT = 3,
  CG_V1_EVENT_FALLING_EDGE = 4,
  CG_V1_EVENT_RISING_EDGE = 5,
  CG_V1_EVENT_BOTH_EDGES = 6,
};
enum {
  CG_V1_FLAG_OPEN_DRAIN = 1 << 0,
  CG_V1_FLAG_OPEN_SOURCE = 1 << 1,
  CG_V1_FLAG_ACTIVE_LOW = 1 << 2,
  CG_V1_FLAG_BIAS_DISABLE = 1 << 3,
  CG_V1_FLAG_BIAS_PULL_DOWN = 1 << 4,
  CG_V1_FLAG_BIAS_PULL_UP = 1 << 5,
};

// MARK: libgpiod v2 (2.x): types and constants as gpiod.h 2.2 declares them

struct gpiod_chip_info;
struct gpiod_line_info;
struct gpiod_line_settings;
struct gpiod_line_config;
struct gpiod_request_config;
struct gpiod_line_request;

enum { CG_V2_DIRECTION_INPUT = 2, CG_V2_DIRECTION_OUTPUT = 3 };
enum { CG_V2_EDGE_RISING = 2, CG_V2_EDGE_FALLING = 3, CG_V2_EDGE_BOTH = 4 };
enum { CG_V2_BIAS_DISABLED = 3, CG_V2_BIAS_PULL_UP = 4, CG_V2_BIAS_PULL_DOWN = 5 };
enum { CG_V2_DRIVE_PUSH_PULL = 1, CG_V2_DRIVE_OPEN_DRAIN = 2, CG_V2_DRIVE_OPEN_SOURCE = 3 };
enum { CG_V2_CLOCK_MONOTONIC = 1 };

// MARK: The functions used, each called as cg_<name>(...)
// X(return type, name, (parameters), (arguments)); XV for functions returning void.

#define CG_GPIOD_V1_FUNCTIONS(X, XV)                                                           \
  X(const char *, gpiod_version_string, (void), ())                                           \
  X(struct gpiod_chip_iter *, gpiod_chip_iter_new, (void), ())                                \
  X(struct gpiod_chip *, gpiod_chip_iter_next, (struct gpiod_chip_iter * iter), (iter))       \
  XV(gpiod_chip_iter_free, (struct gpiod_chip_iter * iter), (iter))                           \
  X(struct gpiod_chip *, gpiod_chip_open, (const char *path), (path))                         \
  XV(gpiod_chip_close, (struct gpiod_chip * chip), (chip))                                    \
  X(const char *, gpiod_chip_name, (struct gpiod_chip * chip), (chip))                        \
  X(const char *, gpiod_chip_label, (struct gpiod_chip * chip), (chip))                       \
  X(unsigned int, gpiod_chip_num_lines, (struct gpiod_chip * chip), (chip))                   \
  X(struct gpiod_line *, gpiod_chip_get_line, (struct gpiod_chip * chip, unsigned int offset), \
    (chip, offset))                                                                           \
  X(const char *, gpiod_line_name, (struct gpiod_line * line), (line))                        \
  X(const char *, gpiod_line_consumer, (struct gpiod_line * line), (line))                    \
  X(int, gpiod_line_update, (struct gpiod_line * line), (line))                               \
  X(int, gpiod_line_request,                                                                  \
    (struct gpiod_line * line, const struct cg_v1_request_config *config, int value),         \
    (line, config, value))                                                                    \
  X(int, gpiod_line_event_get_fd, (struct gpiod_line * line), (line))                         \
  X(int, gpiod_line_get_value, (struct gpiod_line * line), (line))                            \
  X(int, gpiod_line_set_value, (struct gpiod_line * line, int value), (line, value))

#define CG_GPIOD_V2_FUNCTIONS(X, XV)                                                           \
  X(const char *, gpiod_api_version, (void), ())                                              \
  X(struct gpiod_chip *, gpiod_chip_open, (const char *path), (path))                         \
  XV(gpiod_chip_close, (struct gpiod_chip * chip), (chip))                                    \
  X(struct gpiod_chip_info *, gpiod_chip_get_info, (struct gpiod_chip * chip), (chip))        \
  XV(gpiod_chip_info_free, (struct gpiod_chip_info * info), (info))                           \
  X(const char *, gpiod_chip_info_get_name, (struct gpiod_chip_info * info), (info))          \
  X(const char *, gpiod_chip_info_get_label, (struct gpiod_chip_info * info), (info))         \
  X(size_t, gpiod_chip_info_get_num_lines, (struct gpiod_chip_info * info), (info))           \
  X(struct gpiod_line_info *, gpiod_chip_get_line_info,                                       \
    (struct gpiod_chip * chip, unsigned int offset), (chip, offset))                          \
  XV(gpiod_line_info_free, (struct gpiod_line_info * info), (info))                           \
  X(const char *, gpiod_line_info_get_name, (struct gpiod_line_info * info), (info))          \
  X(const char *, gpiod_line_info_get_consumer, (struct gpiod_line_info * info), (info))      \
  X(struct gpiod_line_settings *, gpiod_line_settings_new, (void), ())                        \
  XV(gpiod_line_settings_free, (struct gpiod_line_settings * s), (s))                         \
  X(int, gpiod_line_settings_set_direction, (struct gpiod_line_settings * s, int v), (s, v))  \
  X(int, gpiod_line_settings_set_edge_detection, (struct gpiod_line_settings * s, int v),     \
    (s, v))                                                                                   \
  X(int, gpiod_line_settings_set_bias, (struct gpiod_line_settings * s, int v), (s, v))       \
  X(int, gpiod_line_settings_set_drive, (struct gpiod_line_settings * s, int v), (s, v))      \
  XV(gpiod_line_settings_set_active_low, (struct gpiod_line_settings * s, bool v), (s, v))    \
  XV(gpiod_line_settings_set_debounce_period_us, (struct gpiod_line_settings * s,             \
                                                  unsigned long v), (s, v))                   \
  X(int, gpiod_line_settings_set_event_clock, (struct gpiod_line_settings * s, int v), (s, v)) \
  X(int, gpiod_line_settings_set_output_value, (struct gpiod_line_settings * s, int v),       \
    (s, v))                                                                                   \
  X(struct gpiod_line_config *, gpiod_line_config_new, (void), ())                            \
  XV(gpiod_line_config_free, (struct gpiod_line_config * c), (c))                             \
  X(int, gpiod_line_config_add_line_settings,                                                 \
    (struct gpiod_line_config * c, const unsigned int *offsets, size_t n,                     \
     struct gpiod_line_settings *s),                                                          \
    (c, offsets, n, s))                                                                       \
  X(struct gpiod_request_config *, gpiod_request_config_new, (void), ())                      \
  XV(gpiod_request_config_free, (struct gpiod_request_config * c), (c))                       \
  XV(gpiod_request_config_set_consumer, (struct gpiod_request_config * c, const char *name),  \
     (c, name))                                                                               \
  XV(gpiod_request_config_set_event_buffer_size, (struct gpiod_request_config * c, size_t n), \
     (c, n))                                                                                  \
  X(struct gpiod_line_request *, gpiod_chip_request_lines,                                    \
    (struct gpiod_chip * chip, struct gpiod_request_config * r, struct gpiod_line_config * c), \
    (chip, r, c))                                                                             \
  XV(gpiod_line_request_release, (struct gpiod_line_request * r), (r))                        \
  X(int, gpiod_line_request_get_fd, (struct gpiod_line_request * r), (r))                     \
  X(int, gpiod_line_request_get_value, (struct gpiod_line_request * r, unsigned int offset),  \
    (r, offset))                                                                              \
  X(int, gpiod_line_request_set_value,                                                        \
    (struct gpiod_line_request * r, unsigned int offset, int value), (r, offset, value))

#define CG_DECLARE_V1(ret, name, params, args) ret cg_v1_##name params;
#define CG_DECLARE_V1_VOID(name, params, args) void cg_v1_##name params;
#define CG_DECLARE_V2(ret, name, params, args) ret cg_v2_##name params;
#define CG_DECLARE_V2_VOID(name, params, args) void cg_v2_##name params;
CG_GPIOD_V1_FUNCTIONS(CG_DECLARE_V1, CG_DECLARE_V1_VOID)
CG_GPIOD_V2_FUNCTIONS(CG_DECLARE_V2, CG_DECLARE_V2_VOID)

// MARK: Kernel records and variadic calls

/// ioctl is variadic, which Swift cannot call. FIONREAD gives the bytes a pipe holds unread:
/// the mock uses it to emulate the kernel's per-line event queue.
int cg_unread_bytes(int fd, int *bytes);

/// fcntl is variadic, which Swift cannot call (CLinux has the same shim, but its textual copy
/// of the libc headers clashes with this module's when one Swift file imports both). The mock
/// keeps a duplicate of each pipe's read end so writing never raises SIGPIPE.
int cg_dup_cloexec(int fd);

/// read(2), for the decode path's reads of a line's event fd (CLinux has one too; see above).
long cg_read(int fd, void *buffer, size_t count);

// v1: `struct gpioevent_data`, 16 bytes (u64 timestamp, u32 id, 4 bytes of tail padding) on
// x86_64, aarch64 and armv7 EABI, where a u64 is 8-byte aligned. v2: `struct
// gpio_v2_line_event`, 48 bytes. Every build, cross builds included, checks them here.
_Static_assert(sizeof(struct gpioevent_data) == 16, "gpioevent_data is not the v1 kernel's 16 bytes");
_Static_assert(__builtin_offsetof(struct gpioevent_data, id) == 8, "gpioevent_data.id is not at 8");
_Static_assert(sizeof(struct gpio_v2_line_event) == 48, "gpio_v2_line_event is not 48 bytes");
_Static_assert(__builtin_offsetof(struct gpio_v2_line_event, id) == 8, "v2 id is not at 8");
_Static_assert(__builtin_offsetof(struct gpio_v2_line_event, offset) == 12, "v2 offset is not at 12");
_Static_assert(__builtin_offsetof(struct gpio_v2_line_event, seqno) == 16, "v2 seqno is not at 16");
_Static_assert(__builtin_offsetof(struct gpio_v2_line_event, line_seqno) == 20,
               "v2 line_seqno is not at 20");

#endif
