// StackPool: greenlet stacks carved out of large pooled regions.
//
// How it works
//   Stacks come in size classes (usable size rounded up to a page multiple).
//   Each class owns slabs: one mmap(MAP_NORESERVE) region holding many
//   stacks, each laid out as [guard | usable], the guard below the stack
//   (stacks grow down). A class hands out, in this order: a freed stack that
//   may still hold pages (touched, LIFO: the warmest first), a freed stack
//   whose pages were given back (clean), or the next never-used stack of its
//   newest slab (fresh), mapping a new slab only when all are used. Reuse
//   costs no system call (~40 ns instead of ~4.5 us for mmap+mprotect).
//
//   A fresh stack is carved when it is first handed out: its top page is
//   written (the page make_fcontext writes anyway), then its guard is
//   installed. The order matters on this machine's hypervisor: installing a
//   guard where no page table exists yet allocates one, and after a few
//   hundred such installs every page the process touched earlier costs
//   ~13 us on its next access instead of ~0.1 us (measured on this 6.18
//   guest, where a page fault itself costs ~20 us). The
//   guard of stack i lies just above the top page of stack i-1, written
//   when stack i-1 was carved, so its page table already exists. Carving on
//   demand also spreads the cost over the spawns instead of stalling one
//   spawn for a whole slab.
//
//   The guard is installed with madvise(MADV_GUARD_INSTALL) (Linux >= 6.13):
//   a guard region costs no VMA, so 100,000 guarded stacks fit in one
//   mapping per slab, far below vm.max_map_count (65530 by default). On older
//   kernels the guard falls back to mprotect(PROT_NONE), which splits the
//   slab into two VMAs per stack; the pool then stops guarding once its
//   VMAs would reach half of vm.max_map_count, and says so once on stderr.
//
//   Giving pages back: a class keeps up to kKeepTouchedStacks freed stacks
//   touched. Beyond that, release() does no system call; trim(), called by
//   the hubs from their loops, takes the oldest excess stacks out of the
//   touched list, gives their pages back with MADV_DONTNEED outside the
//   lock (one call per run of adjacent stacks: a guard between two stacks
//   survives MADV_DONTNEED), then files them as clean. A burst of 100,000
//   exiting greenlets thus costs the hubs bounded batches, not one
//   madvise per exit on the critical path.
//
// Invariants
//   - A stack's usable range is [base, base + size); its guard is
//     [base - guard_size, base). in_guard(addr) finds the stack whose guard
//     holds addr, for the stack-overflow report.
//   - Thread-safe (one spin lock, never held across a system call except
//     mmap when a slab is added); stacks may be freed on another thread.
//   - A stack being trimmed is on no list: nobody can be handed it while
//     its pages are being dropped.
//   - Slabs are never unmapped: memory stays reserved for reuse.
#pragma once

#include <atomic>
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

  // Gives back the pages of up to `max_stacks` freed stacks beyond the
  // touched allowance. Returns whether excess stacks remain.
  bool trim(size_t max_stacks);
  // Whether trim() has work: one relaxed load, for the hub's loop.
  bool has_excess() const { return excess_.load(std::memory_order_relaxed) != 0; }

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
  std::atomic<size_t> excess_{0};  // touched free stacks beyond the allowance
  struct Impl;
  Impl* impl();
};

}  // namespace greenhub::detail
