// Captures argc/argv for Embedded Swift, which has no `CommandLine`: glibc calls every
// .init_array function with (argc, argv, envp) before main, so one such function keeps them.
#include "CLinuxProcess.h"

static int saved_argc;
static char *const *saved_argv;

static void capture_arguments(int argc, char **argv, char **envp) {
  (void)envp;
  saved_argc = argc;
  saved_argv = argv;
}

__attribute__((section(".init_array"), used)) static void (*const capture_arguments_entry)(
    int, char **, char **) = capture_arguments;

int cl_argc(void) { return saved_argc; }

char *const *cl_argv(void) { return saved_argv; }
