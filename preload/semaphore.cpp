// Green unnamed semaphores: sem_{init,destroy,wait,trywait,timedwait,
// clockwait,post,getvalue}. Python's locks are these.
//
// How it works
//   A semaphore keeps glibc's 64-bit layout (struct new_sem): `data` holds
//   the value in its low 32 bits and the number of blocked waiters in its
//   high 32 bits, so that one atomic operation both changes the value and
//   tells whether anyone may wait; `private` is 0 for a process-private
//   semaphore. A waiter registers in the high half, then parks on `data`'s
//   address while the value is 0; it takes a token and unregisters with one
//   CAS. sem_post adds a token with a CAS and unparks one waiter only if the
//   count it replaced says there are any. sem_init (libc's) writes the
//   layout and checks the value.
//   Process-shared semaphores (sem_init with pshared, and sem_open's named
//   ones, which live in shared memory) are libc's: another process may wait
//   on them with a futex, and post them with a futex wake that no green
//   waiter hears. A green thread that must wait for one polls it: libc's
//   sem_trywait between green sleeps of 50 us doubling to 5 ms, until it
//   takes it or its deadline passes (the other green threads of its hub
//   run meanwhile; blocking in libc would stop them, and with them the
//   thread that would post: multiprocessing's Pool.terminate() waits so
//   for a lock its own task-handler thread frees).
//
// Cancellation (as glibc 2.36)
//   sem_wait and sem_timedwait act on a pending cancellation on entry;
//   sem_clockwait only when it must block; all three while blocked.
//
// Invariants
//   - sem_post touches the semaphore only up to its CAS (the woken waiter
//     may destroy it at once; unpark_one needs only the address).
//   - A waiter that times out or is cancelled unregisters; a token it did not
//     take stays for the next waiter (the ParkingLot hands a wake-up it can
//     no longer take to the next parked thread).
#include <semaphore.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>

#include "busy_poll.hpp"
#include "parking_lot.hpp"
#include "sync_wait.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

struct SemLayout {
  uint64_t data;
  int private_flag;
  int pad;
};
static_assert(sizeof(SemLayout) <= sizeof(sem_t));

constexpr uint64_t kValueMask = 0xffffffffull;
constexpr uint64_t kOneWaiter = 1ull << 32;

inline SemLayout* layout(sem_t* sem) { return reinterpret_cast<SemLayout*>(sem); }
inline bool is_shared(sem_t* sem) {
  return __atomic_load_n(&layout(sem)->private_flag, __ATOMIC_RELAXED) != 0;
}

// Takes a token if there is one (definitively: retries on a lost CAS).
inline bool try_take(uint64_t* data) {
  uint64_t d = __atomic_load_n(data, __ATOMIC_RELAXED);
  while ((d & kValueMask) != 0) {
    if (__atomic_compare_exchange_n(data, &d, d - 1, true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      return true;
    }
  }
  return false;
}

inline int fail(int error) {
  errno = error;
  return -1;
}

// Blocks until a token is taken (0) or the deadline passes (-1, ETIMEDOUT).
int wait_slow(sem_t* sem, const timespec* abstime, clockid_t clock) {
  uint64_t* data = &layout(sem)->data;
  AbsDeadline deadline;
  if (abstime != nullptr) {
    if (abstime->tv_sec < 0) return fail(ETIMEDOUT);
    if (!valid_timespec(*abstime)) return fail(EINVAL);
    deadline = AbsDeadline::at(clock, *abstime);
  }
  WaitingOn label("sem_wait");
  uint64_t d = __atomic_fetch_add(data, kOneWaiter, __ATOMIC_RELAXED) + kOneWaiter;
  for (;;) {
    if ((d & kValueMask) != 0) {
      if (__atomic_compare_exchange_n(data, &d, d - 1 - kOneWaiter, true, __ATOMIC_ACQUIRE,
                                      __ATOMIC_RELAXED)) {
        return 0;
      }
      continue;
    }
    if (green_cancel_requested()) {
      __atomic_fetch_sub(data, kOneWaiter, __ATOMIC_RELAXED);
      cancellation_point();  // does not return
    }
    if (deadline.expired()) {
      __atomic_fetch_sub(data, kOneWaiter, __ATOMIC_RELAXED);
      return fail(ETIMEDOUT);
    }
    ParkResult r = ParkingLot::park(
        data, [data] { return (__atomic_load_n(data, __ATOMIC_RELAXED) & kValueMask) == 0; },
        deadline);
    if (r == ParkResult::kTimedOut) {
      __atomic_fetch_sub(data, kOneWaiter, __ATOMIC_RELAXED);
      return fail(ETIMEDOUT);
    }
    d = __atomic_load_n(data, __ATOMIC_RELAXED);
  }
}

constexpr int64_t kFirstSharedPollNs = 50'000;
constexpr int64_t kLastSharedPollNs = 5'000'000;

// A green wait on a process-shared semaphore (see above): 0, or -1 with
// ETIMEDOUT (or libc's error).
int wait_shared(Hub& hub, sem_t* sem, const timespec* abstime, clockid_t clock) {
  AbsDeadline deadline;
  if (abstime != nullptr) deadline = AbsDeadline::at(clock, *abstime);
  WaitingOn label("sem_wait");
  const int saved_errno = errno;
  int64_t pause_ns = kFirstSharedPollNs;
  for (;;) {
    if (GREENHUB_REAL(sem_trywait)(sem) == 0) {
      errno = saved_errno;
      return 0;
    }
    if (errno != EAGAIN) return -1;
    if (green_cancel_requested()) cancellation_point();  // does not return
    if (deadline.expired()) return fail(ETIMEDOUT);
    int64_t ns = pause_ns;
    if (!deadline.infinite) ns = std::min(ns, std::max<int64_t>(deadline.remaining_ns(), 0));
    hub.park(hub.prepare_park(), Deadline::after_seconds(static_cast<double>(ns) / 1e9));
    pause_ns = std::min(pause_ns * 2, kLastSharedPollNs);
  }
}

}  // namespace

extern "C" {

int sem_init(sem_t* sem, int pshared, unsigned int value) {
  return GREENHUB_REAL(sem_init)(sem, pshared, value);
}

int sem_destroy(sem_t* sem) { return GREENHUB_REAL(sem_destroy)(sem); }

int sem_wait(sem_t* sem) {
  if (is_shared(sem)) {
    Hub* hub = green_hub();
    if (hub == nullptr) return GREENHUB_REAL(sem_wait)(sem);
    cancellation_point();
    return wait_shared(*hub, sem, nullptr, CLOCK_REALTIME);
  }
  cancellation_point();
  note_running();
  if (try_take(&layout(sem)->data)) return 0;
  return wait_slow(sem, nullptr, CLOCK_REALTIME);
}

int sem_trywait(sem_t* sem) {
  if (is_shared(sem)) return GREENHUB_REAL(sem_trywait)(sem);
  note_running();
  if (try_take(&layout(sem)->data)) return 0;
  return fail(EAGAIN);
}

int sem_timedwait(sem_t* sem, const struct timespec* abstime) {
  if (is_shared(sem)) {
    Hub* hub = green_hub();
    if (hub == nullptr) return GREENHUB_REAL(sem_timedwait)(sem, abstime);
    if (!valid_timespec(*abstime)) return fail(EINVAL);
    cancellation_point();
    return wait_shared(*hub, sem, abstime, CLOCK_REALTIME);
  }
  if (!valid_timespec(*abstime)) return fail(EINVAL);
  cancellation_point();
  if (try_take(&layout(sem)->data)) return 0;
  return wait_slow(sem, abstime, CLOCK_REALTIME);
}

int sem_clockwait(sem_t* sem, clockid_t clock, const struct timespec* abstime) {
  if (is_shared(sem)) {
    Hub* hub = green_hub();
    if (hub == nullptr || !futex_clock_supported(clock) || !valid_timespec(*abstime)) {
      return GREENHUB_REAL(sem_clockwait)(sem, clock, abstime);
    }
    if (GREENHUB_REAL(sem_trywait)(sem) == 0) return 0;  // blocks only when it must, as glibc
    cancellation_point();
    return wait_shared(*hub, sem, abstime, clock);
  }
  if (!futex_clock_supported(clock)) return fail(EINVAL);
  if (!valid_timespec(*abstime)) return fail(EINVAL);
  if (try_take(&layout(sem)->data)) return 0;
  return wait_slow(sem, abstime, clock);
}

int sem_post(sem_t* sem) {
  if (is_shared(sem)) return GREENHUB_REAL(sem_post)(sem);
  uint64_t* data = &layout(sem)->data;
  uint64_t d = __atomic_load_n(data, __ATOMIC_RELAXED);
  do {
    if ((d & kValueMask) == SEM_VALUE_MAX) return fail(EOVERFLOW);
  } while (!__atomic_compare_exchange_n(data, &d, d + 1, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
  if ((d >> 32) != 0) ParkingLot::unpark_one(data);
  return 0;
}

int sem_getvalue(sem_t* __restrict sem, int* __restrict value) {
  if (is_shared(sem)) return GREENHUB_REAL(sem_getvalue)(sem, value);
  *value = static_cast<int>(__atomic_load_n(&layout(sem)->data, __ATOMIC_RELAXED) & kValueMask);
  return 0;
}

}  // extern "C"
