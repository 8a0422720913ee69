// What every benchmark program shares: clocks, order statistics, readings
// from /proc, the --smoke flag, and the output protocol.
//
// Output protocol
//   A benchmark program prints one figure per line, `key value`, where key
//   is `<benchmark>.<figure>` and value a plain decimal number; lines that
//   start with '#' are commentary for humans. A runner (tests/bench/run-*)
//   runs each program several times, takes the median of each key across
//   runs and builds its table from the keys.
//
// Smoke mode
//   `--smoke` runs the same code at a small scale (about 1,000 greenlets, a
//   few iterations) and checks what must hold whatever the machine's speed
//   (every greenlet ran, no sleep returned early, /proc was readable). A
//   broken invariant prints `FAILED: ...` and makes the program exit 1.
//   Timings are printed but never checked.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The q-quantile (0 <= q <= 1, nearest rank) of `values`; reorders them.
template <class T>
T quantile(std::vector<T>& values, double q) {
  if (values.empty()) return T{};
  size_t rank = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + static_cast<long>(rank), values.end());
  return values[rank];
}

template <class T>
T median(std::vector<T> values) {
  return quantile(values, 0.5);
}

inline bool smoke_mode(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) return true;
    std::fprintf(stderr, "usage: %s [--smoke]\n", argv[0]);
    std::exit(2);
  }
  return false;
}

inline void report(const char* key, double value) { std::printf("%s %.3f\n", key, value); }

// Records broken invariants; exit_status() is 1 if any.
class Checks {
 public:
  void expect(bool ok, const std::string& what) {
    if (ok) return;
    std::printf("FAILED: %s\n", what.c_str());
    failed_ = true;
  }
  int exit_status() const {
    std::fflush(stdout);
    return failed_ ? 1 : 0;
  }

 private:
  bool failed_ = false;
};

// A `Name:   value kB` field of /proc/self/status, in bytes; -1 if absent.
inline int64_t status_bytes(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return -1;
  char line[256];
  const size_t len = std::strlen(field);
  int64_t value = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      value = std::strtoll(line + len + 1, nullptr, 10) * 1024;
      break;
    }
  }
  std::fclose(f);
  return value;
}

// The number of mappings (VMAs) of this process: lines of /proc/self/maps.
inline int64_t vma_count() {
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (f == nullptr) return -1;
  int64_t lines = 0;
  int c;
  while ((c = std::fgetc(f)) != EOF) lines += c == '\n';
  std::fclose(f);
  return lines;
}

inline int64_t read_proc_number(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return -1;
  long long value = -1;
  if (std::fscanf(f, "%lld", &value) != 1) value = -1;
  std::fclose(f);
  return value;
}

}  // namespace bench
