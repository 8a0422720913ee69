#include "stack_pool.hpp"

#include "greenhub/spin_lock.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
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
  std::vector<void*> touched;  // freed, may hold pages; newest at the back
  size_t touched_oldest = 0;   // touched[0, touched_oldest) were taken by trim()
  std::vector<void*> clean;    // freed, pages given back
  char* fresh_next = nullptr;  // next never-used stack's guard in the newest slab
  char* fresh_end = nullptr;
  size_t next_slab_stacks = kFirstSlabStacks;

  size_t touched_count() const { return touched.size() - touched_oldest; }
};

}  // namespace

struct StackPool::Impl {
  // Reserved up front: in_guard() reads it from a signal handler, so it must
  // never reallocate.
  Impl() { slabs.reserve(kMaxSlabs); }
  static constexpr size_t kMaxSlabs = 16384;

  mutable SpinLock mutex;
  std::deque<SizeClass> classes;  // a deque: trim() keeps a pointer across unlocking
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

  void add_slab(SizeClass& c) {
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
    c.fresh_next = begin;
    c.fresh_end = begin + bytes;
    c.next_slab_stacks = std::min(count * 2, kMaxSlabStacks);
  }

  // The next never-used stack of `c`: its top page written first, then its
  // guard installed (the order is explained in stack_pool.hpp).
  Stack carve_fresh(SizeClass& c) {
    if (c.fresh_next == c.fresh_end) add_slab(c);
    char* guard = c.fresh_next;
    c.fresh_next += c.size + kGuardSize;
    char* base = guard + kGuardSize;
    static_cast<volatile char*>(base)[c.size - 1] = 0;
    const bool guarded = install_guard(guard);
    return Stack{base, c.size, guarded};
  }

  // Moves up to `max` of the oldest touched stacks beyond the allowance, of
  // any class, into `out` (and off every list). Returns the stride of
  // their class, or 0 when there is no excess.
  size_t take_excess(size_t max, std::vector<void*>& out, SizeClass** from) {
    for (SizeClass& c : classes) {
      if (c.touched_count() <= kKeepTouchedStacks) continue;
      const size_t n = std::min(max, c.touched_count() - kKeepTouchedStacks);
      auto first = c.touched.begin() + static_cast<ptrdiff_t>(c.touched_oldest);
      out.assign(first, first + static_cast<ptrdiff_t>(n));
      c.touched_oldest += n;
      // Compact once the taken prefix dominates, so the vector stays bounded.
      if (c.touched_oldest * 2 >= c.touched.size()) {
        c.touched.erase(c.touched.begin(),
                        c.touched.begin() + static_cast<ptrdiff_t>(c.touched_oldest));
        c.touched_oldest = 0;
      }
      *from = &c;
      return c.size + kGuardSize;
    }
    return 0;
  }

  size_t total_excess() const {
    size_t excess = 0;
    for (const SizeClass& c : classes)
      if (c.touched_count() > kKeepTouchedStacks) excess += c.touched_count() - kKeepTouchedStacks;
    return excess;
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
  const bool guarded = p->guard_mode != Impl::GuardMode::kNone;
  if (c.touched_count() > 0) {
    void* base = c.touched.back();
    c.touched.pop_back();
    // Taking a stack can only shrink the excess: recount only if there was one.
    if (excess_.load(std::memory_order_relaxed) != 0) {
      excess_.store(p->total_excess(), std::memory_order_relaxed);
    }
    return Stack{base, size, guarded};
  }
  if (!c.clean.empty()) {
    void* base = c.clean.back();
    c.clean.pop_back();
    return Stack{base, size, guarded};
  }
  return p->carve_fresh(c);
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
  c.touched.push_back(stack.base);
  if (c.touched_count() > kKeepTouchedStacks) {
    excess_.store(p->total_excess(), std::memory_order_relaxed);
  }
}

bool StackPool::trim(size_t max_stacks) {
  Impl* p = impl();
  std::vector<void*> batch;
  batch.reserve(max_stacks);
  SizeClass* from = nullptr;
  size_t stride;
  {
    std::lock_guard<SpinLock> lock(p->mutex);
    stride = p->take_excess(max_stacks, batch, &from);
    if (stride == 0) {
      excess_.store(0, std::memory_order_relaxed);
      return false;
    }
  }
  const size_t size = stride - kGuardSize;
  // One madvise per run of adjacent stacks (the guards between them keep
  // their markers, or stay PROT_NONE).
  std::sort(batch.begin(), batch.end());
  for (size_t i = 0; i < batch.size();) {
    size_t j = i + 1;
    while (j < batch.size() && static_cast<char*>(batch[j]) == static_cast<char*>(batch[j - 1]) + stride)
      ++j;
    char* first = static_cast<char*>(batch[i]);
    madvise(first, static_cast<size_t>(static_cast<char*>(batch[j - 1]) - first) + size,
            MADV_DONTNEED);
    i = j;
  }
  std::lock_guard<SpinLock> lock(p->mutex);
  from->clean.insert(from->clean.end(), batch.begin(), batch.end());
  const size_t excess = p->total_excess();
  excess_.store(excess, std::memory_order_relaxed);
  return excess != 0;
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
