// StackPool: greenlet stacks carved out of large pooled regions.
//
// How it works
//   Stacks come in size classes (usable size rounded up to a page multiple).
//   Each class owns slabs: one mmap(MAP_NORESERVE) region holding many
//   stacks, each laid out as [guard | usable], the guard below the stack
//   (stacks grow down). Freed stacks go back to their class's free list and
//   are handed out again without a syscall (~40 ns instead of ~4.5 us for a
//   fresh mmap+mprotect).
//
//   The guard is installed with madvise(MADV_GUARD_INSTALL) (Linux >= 6.13):
//   a guard region costs no VMA, so 100,000 guarded stacks fit in one
//   mapping per slab, far below vm.max_map_count (65530 by default). On older
//   kernels the guard falls back to mprotect(PROT_NONE), which splits the
//   slab into two VMAs per stack; the pool then stops guarding once its
//   VMAs would reach half of vm.max_map_count, and says so once on stderr.
//
// Invariants
//   - A stack's usable range is [base, base + size); its guard is
//     [base - guard_size, base). guard_for(addr) finds the stack whose guard
//     holds addr, for the stack-overflow report.
//   - Thread-safe (one mutex); stacks may be freed on another thread.
//   - Slabs are never unmapped: memory stays reserved for reuse; pages of
//     a freed stack beyond kKeepTouchedStacks per class are released with
//     MADV_DONTNEED so that an idle pool does not pin RSS.
#pragma once

#include <cstddef>

namespace greenhub::detail {

struct Stack {
  void* base = nullptr;  // lowest usable address
  size_t size = 0;       // usable bytes
  bool guarded = false;
};

class StackPool {
 public:
  static constexpr size_t kGuardSize = 64 * 1024;
  static constexpr size_t kMinStackSize = 16 * 1024;

  static StackPool& instance();

  // A stack of at least `size` usable bytes (rounded to the page size and
  // to kMinStackSize). Aborts with a clear message when memory runs out.
  Stack allocate(size_t size);
  void release(Stack stack);

  // If addr lies in the guard of a stack of this pool, stores that stack's
  // usable size and returns true.
  bool in_guard(const void* addr, size_t* stack_size) const;

  size_t slab_count() const;

  // Around fork(): the pool's lock is taken by the prepare handler and
  // released in the parent and in the child, so that the child never
  // inherits it held by a thread that does not exist there, nor the free
  // lists half-updated.
  void lock_for_fork();
  void unlock_after_fork();

 private:
  StackPool() = default;
  struct Impl;
  Impl* impl();
};

}  // namespace greenhub::detail
