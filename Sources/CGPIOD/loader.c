// The libgpiod loader and the call table behind CGPIOD.h's cg_v1_* / cg_v2_* wrappers.
// dlopen is in libc itself since glibc 2.34 (the board needs 2.36 anyway), so no -ldl.
#include "CGPIOD.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CG_FIELD(ret, name, params, args) ret(*name) params;
#define CG_FIELD_VOID(name, params, args) void(*name) params;
static struct {
  CG_GPIOD_V1_FUNCTIONS(CG_FIELD, CG_FIELD_VOID)
} v1;
static struct {
  CG_GPIOD_V2_FUNCTIONS(CG_FIELD, CG_FIELD_VOID)
} v2;

static int loaded_api;
static void *handle;
static char error_text[256];

#define CG_CALL_V1(ret, name, params, args) \
  ret cg_v1_##name params { return v1.name args; }
#define CG_CALL_V1_VOID(name, params, args) \
  void cg_v1_##name params { v1.name args; }
#define CG_CALL_V2(ret, name, params, args) \
  ret cg_v2_##name params { return v2.name args; }
#define CG_CALL_V2_VOID(name, params, args) \
  void cg_v2_##name params { v2.name args; }
CG_GPIOD_V1_FUNCTIONS(CG_CALL_V1, CG_CALL_V1_VOID)
CG_GPIOD_V2_FUNCTIONS(CG_CALL_V2, CG_CALL_V2_VOID)

// Resolves every function of the API into its table; false (and the missing name in
// error_text) when one is absent.
#define CG_RESOLVE(table, name)                                                                    \
  if (ok) {                                                                                        \
    *(void **)&table.name = dlsym(library, #name);                                                 \
    if (!table.name) {                                                                             \
      snprintf(error_text, sizeof error_text, "%s has no %s", file, #name);                        \
      ok = false;                                                                                  \
    }                                                                                              \
  }
#define CG_RESOLVE_V1(ret, name, params, args) CG_RESOLVE(v1, name)
#define CG_RESOLVE_V1_VOID(name, params, args) CG_RESOLVE(v1, name)
#define CG_RESOLVE_V2(ret, name, params, args) CG_RESOLVE(v2, name)
#define CG_RESOLVE_V2_VOID(name, params, args) CG_RESOLVE(v2, name)

static bool resolve(void *library, int api, const char *file) {
  bool ok = true;
  if (api == 2) {
    CG_GPIOD_V2_FUNCTIONS(CG_RESOLVE_V2, CG_RESOLVE_V2_VOID)
  } else {
    CG_GPIOD_V1_FUNCTIONS(CG_RESOLVE_V1, CG_RESOLVE_V1_VOID)
  }
  return ok;
}

// Opens `file` and resolves its API (`api` 0: told by its symbols); 0 on failure.
static int try_load(const char *file, int api) {
  void *library = dlopen(file, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *why = dlerror();
    snprintf(error_text, sizeof error_text, "%s", why ? why : file);
    return 0;
  }
  if (api == 0) api = dlsym(library, "gpiod_api_version") ? 2 : dlsym(library, "gpiod_version_string") ? 1 : 0;
  if (api == 0) {
    snprintf(error_text, sizeof error_text, "%s is not libgpiod (no gpiod_api_version nor gpiod_version_string)", file);
    dlclose(library);
    return 0;
  }
  if (!resolve(library, api, file)) {
    memset(api == 2 ? (void *)&v2 : (void *)&v1, 0, api == 2 ? sizeof v2 : sizeof v1);
    dlclose(library);
    return 0;
  }
  handle = library;
  loaded_api = api;
  error_text[0] = 0;
  return api;
}

int cg_gpiod_api(void) { return loaded_api; }

static int load_locked(const char *path);

// Startup code loads once; tests may call it from several threads at a time.
int cg_gpiod_load(const char *path) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  int api = load_locked(path);
  pthread_mutex_unlock(&lock);
  return api;
}

static int load_locked(const char *path) {
  if (loaded_api) return loaded_api;
  if (!path) path = getenv("SENSORLOOP_LIBGPIOD");
  if (path && *path) return try_load(path, 0);
  if (try_load("libgpiod.so.3", 2)) return 2;
  char first[sizeof error_text];
  snprintf(first, sizeof first, "%s", error_text);
  if (try_load("libgpiod.so.2", 1)) return 1;
  char second[sizeof error_text];
  snprintf(second, sizeof second, "%s", error_text);
  snprintf(error_text, sizeof error_text, "%s; %s", first, second);
  return 0;
}

const char *cg_gpiod_error(void) { return error_text; }

const char *cg_gpiod_version(void) {
  if (loaded_api == 2) return v2.gpiod_api_version();
  if (loaded_api == 1) return v1.gpiod_version_string();
  return "";
}

int cg_unread_bytes(int fd, int *bytes) { return ioctl(fd, FIONREAD, bytes); }

int cg_dup_cloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

long cg_read(int fd, void *buffer, size_t count) { return (long)read(fd, buffer, count); }
