// GreenThread: a program's pthread, run as a greenlet.
//
// How it works
//   pthread_create makes a GreenThread (a GreenletBase tagged kGreenThreadTag)
//   and starts it on a hub chosen by hub_for_new_thread(). Its pthread_t is
//   the GreenThread's address; a registry maps handles back to threads, so
//   every pthread function can tell a green handle from a real one (real
//   handles go to libc).
//
//   The thread's life: run() calls the start routine under a base unwind
//   buffer; pthread_exit (or a cancellation) unwinds the green stack with
//   _Unwind_ForcedUnwind, running C++ destructors and the C cleanup handlers
//   registered with pthread_cleanup_push (the preload keeps that chain per
//   green thread, since glibc keeps it per OS thread), and lands back in
//   run(). Then the thread-specific data destructors run, `finished` is set
//   and joiners are unparked.
//
// Ownership
//   The registry holds a reference from creation until the thread is joined
//   or (detached and finished); the hub holds one while it runs.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <unwind.h>

#include <atomic>
#include <csetjmp>
#include <cstdint>
#include <memory>
#include <vector>

#include "greenhub/runtime.hpp"

namespace greenhub::preload {

constexpr uint8_t kGreenThreadTag = 1;

// One slot of thread-specific data.
struct SpecificSlot {
  uint64_t key_sequence = 0;
  void* value = nullptr;
};

// A signal sent to a green thread while its mask blocked it.
struct PendingGreenSignal {
  int sig = 0;
  bool has_value = false;  // pthread_sigqueue
  sigval value{};
};

// A frame that forced unwinding may land in: the base of a green thread,
// or a C pthread_cleanup_push buffer. Layout-compatible with the start of
// glibc's __pthread_unwind_buf_t (a jmp_buf then mask_was_saved).
struct UnwindTarget;

class GreenThread final : public GreenletBase {
 public:
  enum class JoinState : uint8_t { kJoinable, kDetached, kJoined };

  GreenThread(void* (*start)(void*), void* arg);
  ~GreenThread() override;

  pthread_t handle() const { return reinterpret_cast<pthread_t>(this); }
  // A green thread's id as mutex owner and as gettid() (thread_id.cpp):
  // kOwnerIdBit set, so above PID_MAX_LIMIT (2^22), an id no task can have.
  static constexpr uint32_t kOwnerIdBit = 0x40000000u;
  static bool is_owner_id(long id) {
    return id > 0 && id <= INT32_MAX && (static_cast<uint32_t>(id) & kOwnerIdBit) != 0;
  }
  uint32_t owner_id() const { return owner_id_; }

  // The green thread running now on this OS thread, or nullptr.
  static GreenThread* current();
  // The green thread behind a handle, or nullptr if it is not one of ours.
  static std::shared_ptr<GreenThread> find(pthread_t handle);
  // The registered thread whose owner_id() is `id` (a scan: for tgkill).
  static std::shared_ptr<GreenThread> find_by_owner_id(uint32_t id);
  static size_t live_count();
  // In a child made by fork(): the registry holds `survivor` (the forking
  // green thread, or nullptr) alone; every other thread does not exist.
  static void forget_all_but(GreenThread* survivor);

  // Registers a freshly created thread (joinable or detached).
  static void register_thread(const std::shared_ptr<GreenThread>& thread, bool detached);

  // pthread_join and friends: waits (deadline) for the thread to finish,
  // then releases it. Returns 0 or the pthread error code.
  int join(void** result, const struct AbsDeadline* deadline, bool try_only);
  int detach();

  // pthread_exit: unwinds the calling green thread to its base.
  [[noreturn]] void exit(void* result);
  // Continues an unwind from a C cleanup buffer (__pthread_unwind_next).
  [[noreturn]] void unwind_next(void* cleanup_buffer);

  // Cancellation (deferred; acts at the preload's cancellation points).
  int cancel_state = PTHREAD_CANCEL_ENABLE;
  int cancel_type = PTHREAD_CANCEL_DEFERRED;
  std::atomic<bool> cancel_pending{false};
  // Whether a cancellation is pending and enabled.
  bool cancel_requested() const;
  // Acts on a pending cancellation if enabled (pthread_exit(PTHREAD_CANCELED)).
  void test_cancel();

  // C cleanup buffers (pthread_cleanup_push), newest first.
  void* cleanup_chain = nullptr;
  std::vector<SpecificSlot> specific;
  // Its signal mask and the signals sent to it while it blocked them
  // (signal_mask.hpp). Touched on its hub's thread only (and by its creator
  // before it starts).
  sigset_t signal_mask{};
  std::vector<PendingGreenSignal> pending_signals;
  // In a child it forked, the thread is the process's only one: its mask
  // is the OS thread's.
  bool owns_os_signal_mask = false;
  char thread_name[16] = {0};
  size_t requested_stack_size = 0;
  size_t guard_size = 0;

 protected:
  void run() override;
  void finished(std::exception_ptr error) override;

 private:
  [[noreturn]] void unwind_to(void* target);

  void* (*start_)(void*);
  void* arg_;
  void* result_ = nullptr;
  uint32_t owner_id_;
  std::atomic<uint32_t> finished_word_{0};
  JoinState join_state_ = JoinState::kJoinable;  // guarded by the registry lock
  bool has_joiner_ = false;                      // guarded by the registry lock
  void* base_target_ = nullptr;
  _Unwind_Exception unwind_exception_{};
};

}  // namespace greenhub::preload
