// Green one-time initialization: pthread_once, __pthread_once.
//
// How it works
//   The pthread_once_t (an int, 0 = PTHREAD_ONCE_INIT) goes 0 -> 1 (running:
//   the thread that won the CAS runs the routine) -> 2 (done). Threads that
//   find it running park on its address until it is done, or until it is
//   back at 0 because the routine was cancelled or threw, in which case one
//   of them runs the routine, as POSIX and std::call_once require. The
//   done path is one acquire load: no system call, no hub call.
//
// Invariants
//   - The reset on cancellation or exception is a destructor, so it runs
//     during pthread_exit's forced unwinding of a green or real thread and
//     during a C++ exception alike.
//   - Waiting here is not a cancellation point (as glibc): an interrupted
//     park parks again.
#include <pthread.h>

#include "parking_lot.hpp"
#include "sync_wait.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

enum : int { kNotRun = 0, kRunning = 1, kDone = 2 };

// Puts the once control back to "not run" unless the routine completed.
class ResetUnlessDone {
 public:
  explicit ResetUnlessDone(int* once) : once_(once) {}
  ~ResetUnlessDone() {
    if (done_) return;
    __atomic_store_n(once_, kNotRun, __ATOMIC_RELEASE);
    ParkingLot::unpark_all(once_);
  }
  ResetUnlessDone(const ResetUnlessDone&) = delete;
  ResetUnlessDone& operator=(const ResetUnlessDone&) = delete;
  void done() { done_ = true; }

 private:
  int* once_;
  bool done_ = false;
};

}  // namespace

extern "C" {

int pthread_once(pthread_once_t* once_control, void (*init_routine)(void)) {
  int* once = once_control;
  int state = __atomic_load_n(once, __ATOMIC_ACQUIRE);
  for (;;) {
    if (state == kDone) return 0;
    if (state == kNotRun) {
      if (__atomic_compare_exchange_n(once, &state, kRunning, false, __ATOMIC_ACQUIRE,
                                      __ATOMIC_ACQUIRE)) {
        break;
      }
      continue;
    }
    WaitingOn label("pthread_once");
    ParkingLot::park(once, [once] { return __atomic_load_n(once, __ATOMIC_ACQUIRE) == kRunning; });
    state = __atomic_load_n(once, __ATOMIC_ACQUIRE);
  }
  ResetUnlessDone reset(once);
  init_routine();
  reset.done();
  __atomic_store_n(once, kDone, __ATOMIC_RELEASE);
  ParkingLot::unpark_all(once);
  return 0;
}

int __pthread_once(pthread_once_t* once_control, void (*init_routine)(void)) {
  return pthread_once(once_control, init_routine);
}

}  // extern "C"
