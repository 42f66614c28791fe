// A fault injector for end-to-end tests, loaded into the CLI with LD_PRELOAD. It lands a fault at
// an exact point of a run, which no timing can: the product has no test hooks.
//   FCNET_FAULT_SIGINT_AT_LOG=TEXT  send the process SIGINT when a vfprintf formats a line
//                                    containing TEXT, and print that line only once the CLI has
//                                    taken the signal (it says "fcnet: stopping" with write(2))
//   FCNET_FAULT_MKSTEMP=TEXT        fail mkstemp (ENOSPC) for a template containing TEXT ...
//   FCNET_FAULT_MKSTEMP_SKIP=N      ... after letting the first N such calls through
#include <dlfcn.h>
#include <semaphore.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {

namespace {
// Posted when the CLI says it took the signal; waited on without a clock (a CLI that never takes
// it hangs the test until ctest's timeout, which is then the failure).
sem_t g_taken;
__attribute__((constructor)) void init_shim() {
  sem_init(&g_taken, 0, 0);
}

void maybe_raise(const char* fmt, va_list ap) {
  const char* want = getenv("FCNET_FAULT_SIGINT_AT_LOG");
  if (want == nullptr || *want == '\0') return;
  char line[4096];
  va_list copy;
  va_copy(copy, ap);
  vsnprintf(line, sizeof line, fmt, copy);
  va_end(copy);
  if (strstr(line, want) == nullptr) return;
  kill(getpid(), SIGINT);  // process-directed, as from a terminal
  while (sem_wait(&g_taken) != 0 && errno == EINTR) {
  }
}
}  // namespace

int __vfprintf_chk(FILE* f, int flag, const char* fmt, va_list ap);

int vfprintf(FILE* f, const char* fmt, va_list ap) {
  static int (*real)(FILE*, const char*, va_list);
  if (real == nullptr)
    real = reinterpret_cast<int (*)(FILE*, const char*, va_list)>(dlsym(RTLD_NEXT, "vfprintf"));
  maybe_raise(fmt, ap);
  return real(f, fmt, ap);
}

int __vfprintf_chk(FILE* f, int flag, const char* fmt, va_list ap) {
  static int (*real)(FILE*, int, const char*, va_list);
  if (real == nullptr)
    real = reinterpret_cast<int (*)(FILE*, int, const char*, va_list)>(
        dlsym(RTLD_NEXT, "__vfprintf_chk"));
  maybe_raise(fmt, ap);
  return real(f, flag, fmt, ap);
}

ssize_t write(int fd, const void* buf, size_t n) {
  static ssize_t (*real)(int, const void*, size_t);
  if (real == nullptr)
    real = reinterpret_cast<ssize_t (*)(int, const void*, size_t)>(dlsym(RTLD_NEXT, "write"));
  const ssize_t r = real(fd, buf, n);
  if (fd == STDERR_FILENO && memmem(buf, n, "fcnet: stopping", 15) != nullptr) sem_post(&g_taken);
  return r;
}

int mkstemp(char* tmpl) {
  static int (*real)(char*);
  static int matched;
  if (real == nullptr) real = reinterpret_cast<int (*)(char*)>(dlsym(RTLD_NEXT, "mkstemp"));
  const char* want = getenv("FCNET_FAULT_MKSTEMP");
  if (want != nullptr && *want != '\0' && strstr(tmpl, want) != nullptr) {
    const char* skip = getenv("FCNET_FAULT_MKSTEMP_SKIP");
    if (matched++ >= (skip != nullptr ? atoi(skip) : 0)) {
      errno = ENOSPC;
      return -1;
    }
  }
  return real(tmpl);
}

}  // extern "C"
