// startwin: freezes sensorloop inside its startup window, for the "stop during startup" check.
//
// Waits (up to 20 s) for a process named `sensorloop`, then polls its /proc/PID/status until
// SIGTERM is in its blocked mask (SigBlk: the program took its signals, which it does first,
// before requesting GPIO lines and starting its tasks) and stops it there with SIGSTOP. Prints the
// PID. `systemctl stop` then sends SIGTERM followed by SIGCONT: the SIGTERM arrives exactly
// between "signals blocked" and "the loop's first turn", the window where it used to be lost.
// Exit 1 if no such process showed up or it got past the window unseen.
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int read_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = 0;
  return (int)n;
}

static int find(void) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  char path[300], comm[64];
  int pid = 0;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
    if (read_file(path, comm, sizeof comm) > 0 && strcmp(comm, "sensorloop\n") == 0) {
      pid = atoi(e->d_name);
      break;
    }
  }
  if (d) closedir(d);
  return pid;
}

int main(void) {
  double deadline = now() + 20;
  int pid = 0;
  while (!pid && now() < deadline) pid = find();
  if (!pid) {
    fprintf(stderr, "startwin: no sensorloop process within 20 s\n");
    return 1;
  }
  char path[64], status[4096];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  while (now() < deadline) {
    if (read_file(path, status, sizeof status) <= 0) break;
    char *blk = strstr(status, "SigBlk:");
    if (blk && (strtoull(blk + 7, NULL, 16) & (1ULL << (SIGTERM - 1)))) {
      kill(pid, SIGSTOP);
      printf("%d\n", pid);
      return 0;
    }
  }
  fprintf(stderr, "startwin: sensorloop %d exited or never blocked SIGTERM\n", pid);
  return 1;
}
