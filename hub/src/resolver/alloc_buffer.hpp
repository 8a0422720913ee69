// AllocBuffer: glibc's struct alloc_buffer (include/alloc_buffer.h), which
// nss_dns uses to lay a struct hostent out in the caller's buffer. Same
// allocation order, same alignment rules, same "failed" state, so that a
// hostent built here occupies the same bytes and runs out of room (ERANGE)
// at the same buffer size as glibc's.
//
//   copy_string(s)       strlen(s) + 1 bytes, unaligned; returns the copy
//   next(align)          aligns the position, reserves nothing
//   copy_bytes(p, n)     n bytes, unaligned
//   alloc_array<T>(n)    n elements of T, aligned for T
// Once an allocation fails, every later one fails and failed() is true.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace greenhub::detail {

class AllocBuffer {
 public:
  AllocBuffer(char* start, size_t size)
      : current_(reinterpret_cast<uintptr_t>(start)),
        end_(reinterpret_cast<uintptr_t>(start) + size) {}

  bool failed() const { return current_ == 0; }

  char* copy_string(const char* s) {
    size_t n = std::strlen(s) + 1;
    char* p = reserve(n, 1);
    if (p != nullptr) std::memcpy(p, s, n);
    return p;
  }

  char* next(size_t align) {
    if (failed()) return nullptr;
    uintptr_t aligned = (current_ + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
    if (aligned < current_ || aligned > end_) {
      current_ = end_ = 0;
      return nullptr;
    }
    current_ = aligned;
    return reinterpret_cast<char*>(current_);
  }

  char* copy_bytes(const void* src, size_t n) {
    char* p = reserve(n, 1);
    if (p != nullptr) std::memcpy(p, src, n);
    return p;
  }

  template <class T>
  T* alloc_array(size_t n) {
    return reinterpret_cast<T*>(reserve(n * sizeof(T), alignof(T)));
  }

 private:
  char* reserve(size_t size, size_t align) {
    if (next(align) == nullptr) return nullptr;
    if (end_ - current_ < size) {
      current_ = end_ = 0;
      return nullptr;
    }
    char* p = reinterpret_cast<char*>(current_);
    current_ += size;
    return p;
  }

  uintptr_t current_;
  uintptr_t end_;
};

}  // namespace greenhub::detail
