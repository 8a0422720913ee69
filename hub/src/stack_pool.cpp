#include "stack_pool.hpp"

#include "greenhub/spin_lock.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace greenhub::detail {
namespace {

constexpr size_t kFirstSlabStacks = 16;
constexpr size_t kMaxSlabStacks = 1024;
constexpr size_t kKeepTouchedStacks = 256;

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

size_t read_max_map_count() {
  FILE* f = std::fopen("/proc/sys/vm/max_map_count", "re");
  long value = 65530;
  if (f != nullptr) {
    if (std::fscanf(f, "%ld", &value) != 1) value = 65530;
    std::fclose(f);
  }
  return static_cast<size_t>(value);
}

struct Slab {
  char* begin;
  char* end;
  size_t stride;  // guard + usable
};

struct SizeClass {
  size_t size = 0;
  std::vector<void*> free_bases;
  size_t touched_free = 0;  // how many of the free stacks may hold RSS
  size_t next_slab_stacks = kFirstSlabStacks;
};

}  // namespace

struct StackPool::Impl {
  // Reserved up front: in_guard() reads it from a signal handler, so it must
  // never reallocate.
  Impl() { slabs.reserve(kMaxSlabs); }
  static constexpr size_t kMaxSlabs = 16384;

  mutable SpinLock mutex;
  std::vector<SizeClass> classes;
  std::vector<Slab> slabs;
  enum class GuardMode { kUnknown, kGuardRegion, kMprotect, kNone } guard_mode =
      GuardMode::kUnknown;
  size_t mprotect_vmas = 0;
  size_t vma_budget = 0;

  SizeClass& class_for(size_t size) {
    for (auto& c : classes)
      if (c.size == size) return c;
    classes.push_back(SizeClass{});
    classes.back().size = size;
    return classes.back();
  }

  // Guards [addr, addr + kGuardSize). Returns whether a guard is in place.
  bool install_guard(char* addr) {
    if (guard_mode == GuardMode::kUnknown || guard_mode == GuardMode::kGuardRegion) {
      if (madvise(addr, kGuardSize, MADV_GUARD_INSTALL) == 0) {
        guard_mode = GuardMode::kGuardRegion;
        return true;
      }
      guard_mode = GuardMode::kMprotect;
      vma_budget = read_max_map_count() / 2;
    }
    if (guard_mode == GuardMode::kMprotect) {
      if (mprotect_vmas + 2 <= vma_budget && mprotect(addr, kGuardSize, PROT_NONE) == 0) {
        mprotect_vmas += 2;
        return true;
      }
      guard_mode = GuardMode::kNone;
      std::fprintf(stderr,
                   "greenhub: stack guard pages stop here: this kernel has no "
                   "MADV_GUARD_INSTALL and more mprotect guards would exceed half of "
                   "vm.max_map_count (%zu); raise it with sysctl vm.max_map_count\n",
                   vma_budget * 2);
    }
    return false;
  }

  void grow(SizeClass& c) {
    const size_t stride = c.size + kGuardSize;
    const size_t count = c.next_slab_stacks;
    const size_t bytes = stride * count;
    if (slabs.size() == kMaxSlabs) {
      std::fprintf(stderr, "greenhub: too many greenlet stack regions (%zu)\n", kMaxSlabs);
      std::abort();
    }
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
      std::fprintf(stderr, "greenhub: cannot map %zu greenlet stacks of %zu KiB: %s\n",
                   count, c.size / 1024, std::strerror(errno));
      std::abort();
    }
    char* begin = static_cast<char*>(mem);
    slabs.push_back(Slab{begin, begin + bytes, stride});
    // Hand out from the low end first: push in reverse.
    for (size_t i = count; i-- > 0;) {
      char* guard = begin + i * stride;
      install_guard(guard);
      c.free_bases.push_back(guard + kGuardSize);
    }
    c.touched_free = 0;
    c.next_slab_stacks = std::min(count * 2, kMaxSlabStacks);
  }
};

StackPool& StackPool::instance() {
  // Never destroyed: greenlets may outlive static destructors at exit.
  static StackPool* pool = new StackPool();
  return *pool;
}

StackPool::Impl* StackPool::impl() {
  static Impl* impl = new Impl();
  return impl;
}

Stack StackPool::allocate(size_t size) {
  const size_t page = page_size();
  size = std::max(size, kMinStackSize);
  size = (size + page - 1) / page * page;
  Impl* p = impl();
  std::lock_guard<SpinLock> lock(p->mutex);
  SizeClass& c = p->class_for(size);
  if (c.free_bases.empty()) p->grow(c);
  void* base = c.free_bases.back();
  c.free_bases.pop_back();
  if (c.touched_free > 0) --c.touched_free;
  const bool guarded = p->guard_mode != Impl::GuardMode::kNone;
  return Stack{base, size, guarded};
}

void StackPool::release(Stack stack) {
  if (stack.base == nullptr) return;
#if defined(__SANITIZE_ADDRESS__)
  // Frames that never returned (the greenlets a destroyed hub discards
  // without unwinding) leave poisoned redzones: the next owner starts clean.
  __asan_unpoison_memory_region(stack.base, stack.size);
#endif
  Impl* p = impl();
  std::lock_guard<SpinLock> lock(p->mutex);
  SizeClass& c = p->class_for(stack.size);
  if (c.touched_free >= kKeepTouchedStacks) {
    madvise(stack.base, stack.size, MADV_DONTNEED);
  } else {
    ++c.touched_free;
  }
  c.free_bases.push_back(stack.base);
}

bool StackPool::in_guard(const void* addr, size_t* stack_size) const {
  // Called from a SIGSEGV handler: no locking (slabs only ever grow, and a
  // torn read at worst misses a freshly added slab).
  Impl* p = const_cast<StackPool*>(this)->impl();
  const char* a = static_cast<const char*>(addr);
  for (const Slab& s : p->slabs) {
    if (a < s.begin || a >= s.end) continue;
    const size_t offset = static_cast<size_t>(a - s.begin) % s.stride;
    if (offset < kGuardSize) {
      *stack_size = s.stride - kGuardSize;
      return true;
    }
    return false;
  }
  return false;
}

size_t StackPool::slab_count() const {
  Impl* p = const_cast<StackPool*>(this)->impl();
  std::lock_guard<SpinLock> lock(p->mutex);
  return p->slabs.size();
}

void StackPool::lock_for_fork() { impl()->mutex.lock(); }

void StackPool::unlock_after_fork() { impl()->mutex.unlock(); }

}  // namespace greenhub::detail
