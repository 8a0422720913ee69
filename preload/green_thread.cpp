#include "green_thread.hpp"

#include <unwind.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "deadline.hpp"
#include "greenhub/spin_lock.hpp"
#include "parking_lot.hpp"
#include "process_exit.hpp"
#include "runtime.hpp"
#include "thread_keys.hpp"

namespace greenhub::preload {

// Lands forced unwinding. `jump` is a sigjmp_buf-compatible buffer whose
// address also marks the frame it lives in.
struct UnwindTarget {
  sigjmp_buf jump;
};

namespace {

std::atomic<uint32_t> next_owner_id{1};

struct Registry {
  SpinLock lock;
  std::unordered_map<pthread_t, std::shared_ptr<GreenThread>> threads;
};

Registry* the_registry = nullptr;

Registry& registry() {
  static Registry* r = the_registry = new Registry();  // never destroyed: used during exit
  (void)r;
  return *the_registry;
}

// The exception class of a green thread's exit unwind ("GHUBEXIT").
constexpr _Unwind_Exception_Class kExitUnwindClass = 0x4748554245584954ull;

_Unwind_Reason_Code unwind_stop(int, _Unwind_Action actions, _Unwind_Exception_Class,
                                _Unwind_Exception* exception, _Unwind_Context* context,
                                void* parameter) {
  auto* target = static_cast<void*>(parameter);
  const uintptr_t cfa = _Unwind_GetCFA(context);
  if ((actions & _UA_END_OF_STACK) || cfa > reinterpret_cast<uintptr_t>(target)) {
    (void)exception;
    // The landing frame's buffer: glibc's cleanup buffers start with a
    // jmp_buf and mask_was_saved, as sigjmp_buf does.
    siglongjmp(*reinterpret_cast<sigjmp_buf*>(target), 1);
  }
  return _URC_NO_REASON;
}

void unwind_exception_cleanup(_Unwind_Reason_Code, _Unwind_Exception*) {
  std::fprintf(stderr, "greenhub: a green thread's exit unwind was caught and not rethrown\n");
  std::abort();
}

}  // namespace

GreenThread::GreenThread(void* (*start)(void*), void* arg)
    : start_(start), arg_(arg), owner_id_(kOwnerIdBit | (next_owner_id.fetch_add(1) & (kOwnerIdBit - 1))) {
  set_tag(kGreenThreadTag);
}

GreenThread::~GreenThread() = default;

GreenThread* GreenThread::current() {
  Hub* hub = Hub::current_if_exists();
  if (hub == nullptr) return nullptr;
  GreenletBase* g = hub->current_greenlet();
  return g->tag() == kGreenThreadTag ? static_cast<GreenThread*>(g) : nullptr;
}

std::shared_ptr<GreenThread> GreenThread::find(pthread_t handle) {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.lock);
  auto it = r.threads.find(handle);
  return it == r.threads.end() ? nullptr : it->second;
}

std::shared_ptr<GreenThread> GreenThread::find_by_owner_id(uint32_t id) {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.lock);
  for (auto& [handle, thread] : r.threads) {
    if (thread->owner_id_ == id) return thread;
  }
  return nullptr;
}

size_t GreenThread::live_count() {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.lock);
  size_t n = 0;
  for (auto& [handle, thread] : r.threads) {
    if (thread->finished_word_.load(std::memory_order_acquire) == 0) ++n;
  }
  return n;
}

void GreenThread::register_thread(const std::shared_ptr<GreenThread>& thread, bool detached) {
  Registry& r = registry();
  std::lock_guard<SpinLock> lock(r.lock);
  thread->join_state_ = detached ? JoinState::kDetached : JoinState::kJoinable;
  r.threads[thread->handle()] = thread;
}

void GreenThread::run() {
  UnwindTarget base;
  if (sigsetjmp(base.jump, 0) == 0) {
    base_target_ = &base;
    result_ = start_(arg_);
  }
  // Returned, or landed here from pthread_exit / cancellation.
  base_target_ = nullptr;
  cleanup_chain = nullptr;
  run_specific_destructors(specific);
}

void GreenThread::finished(std::exception_ptr error) {
  if (error != nullptr) {
    // A C++ exception escaped the start routine: natively that is
    // std::terminate in the thread; keep that behaviour.
    std::rethrow_exception(error);
  }
  std::shared_ptr<GreenThread> keep;
  {
    Registry& r = registry();
    std::lock_guard<SpinLock> lock(r.lock);
    finished_word_.store(1, std::memory_order_release);
    if (join_state_ == JoinState::kDetached) {
      auto it = r.threads.find(handle());
      if (it != r.threads.end()) {
        keep = std::move(it->second);  // released outside the lock
        r.threads.erase(it);
      }
    }
  }
  ParkingLot::unpark_all(&finished_word_);
  exit_process_if_last_thread();
}

int GreenThread::join(void** result, const AbsDeadline* deadline, bool try_only) {
  Registry& r = registry();
  {
    std::lock_guard<SpinLock> lock(r.lock);
    if (join_state_ != JoinState::kJoinable || has_joiner_) return EINVAL;
    if (try_only && finished_word_.load(std::memory_order_acquire) == 0) return EBUSY;
    has_joiner_ = true;
  }
  for (;;) {
    if (finished_word_.load(std::memory_order_acquire) != 0) break;
    // pthread_join is a cancellation point.
    if (GreenThread* self = GreenThread::current(); self != nullptr && self->cancel_requested()) {
      {
        std::lock_guard<SpinLock> lock(r.lock);
        has_joiner_ = false;
      }
      self->test_cancel();
    }
    AbsDeadline forever = AbsDeadline::never();
    ParkResult pr = ParkingLot::park(
        &finished_word_, [&] { return finished_word_.load(std::memory_order_acquire) == 0; },
        deadline != nullptr ? *deadline : forever);
    if (pr == ParkResult::kTimedOut && finished_word_.load(std::memory_order_acquire) == 0) {
      std::lock_guard<SpinLock> lock(r.lock);
      has_joiner_ = false;
      return ETIMEDOUT;
    }
  }
  if (result != nullptr) *result = result_;
  std::shared_ptr<GreenThread> keep;
  {
    std::lock_guard<SpinLock> lock(r.lock);
    join_state_ = JoinState::kJoined;
    auto it = r.threads.find(handle());
    if (it != r.threads.end()) {
      keep = std::move(it->second);
      r.threads.erase(it);
    }
  }
  return 0;
}

int GreenThread::detach() {
  Registry& r = registry();
  std::shared_ptr<GreenThread> keep;
  std::lock_guard<SpinLock> lock(r.lock);
  if (join_state_ != JoinState::kJoinable) return EINVAL;
  join_state_ = JoinState::kDetached;
  if (finished_word_.load(std::memory_order_acquire) != 0) {
    auto it = r.threads.find(handle());
    if (it != r.threads.end()) {
      keep = std::move(it->second);
      r.threads.erase(it);
    }
  }
  return 0;
}

void GreenThread::exit(void* result) {
  result_ = result;
  unwind_to(cleanup_chain != nullptr ? cleanup_chain : base_target_);
}

void GreenThread::unwind_next(void* cleanup_buffer) {
  // glibc's buffer keeps the previous buffer in priv.data.prev, right
  // after the jmp_buf and mask_was_saved.
  auto* buf = static_cast<__pthread_unwind_buf_t*>(cleanup_buffer);
  void* prev = buf->__pad[0];
  cleanup_chain = prev;
  unwind_to(prev != nullptr ? prev : base_target_);
}

void GreenThread::unwind_to(void* target) {
  if (target == nullptr) {
    std::fprintf(stderr, "greenhub: green thread exit outside its start routine\n");
    std::abort();
  }
  std::memset(&unwind_exception_, 0, sizeof unwind_exception_);
  unwind_exception_.exception_class = kExitUnwindClass;
  unwind_exception_.exception_cleanup = unwind_exception_cleanup;
  _Unwind_ForcedUnwind(&unwind_exception_, unwind_stop, target);
  // Only reached if the unwinder failed outright: land directly.
  siglongjmp(*reinterpret_cast<sigjmp_buf*>(target), 1);
}

void GreenThread::forget_all_but(GreenThread* survivor) {
  registry();
  // The parent's map may have been halfway through an update: leaked.
  auto* fresh = new Registry();
  if (survivor != nullptr) {
    fresh->threads[survivor->handle()] =
        std::static_pointer_cast<GreenThread>(survivor->shared_from_this());
  }
  the_registry = fresh;
}

bool GreenThread::cancel_requested() const {
  return cancel_state == PTHREAD_CANCEL_ENABLE && cancel_pending.load(std::memory_order_acquire);
}

void GreenThread::test_cancel() {
  if (cancel_requested()) {
    cancel_state = PTHREAD_CANCEL_DISABLE;  // as glibc: no second cancellation
    exit(PTHREAD_CANCELED);
  }
}

}  // namespace greenhub::preload
