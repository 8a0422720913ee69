// Green pthread mutexes: pthread_mutex_{init,destroy,lock,trylock,
// timedlock,clocklock,unlock,consistent} and the __pthread_mutex_* names.
//
// How it works
//   A mutex keeps glibc's layout (struct __pthread_mutex_s), so static
//   initializers, libc's pthread_mutex_init (which init calls) and code that
//   reads the fields keep working, and every field means what it means in
//   glibc:
//     __lock    0 unlocked, 1 locked, 2 locked with possible waiters
//               (Drepper's "Futexes are tricky", mutex 2). Waiters park on
//               its address in the ParkingLot: a green thread parks on its
//               hub, a real thread on a futex, and either one's unlock wakes
//               the other.
//     __owner   the owner's id (current_owner_id(): a green thread's id or a
//               real thread's kernel tid), for EDEADLK/EPERM of errorcheck
//               mutexes and the recursion of recursive ones.
//     __count   the recursion depth of a recursive mutex.
//     __nusers  lock holders, counted as glibc counts them (a condvar wait
//               keeps counting; a normal mutex unlocked twice counts down
//               twice): destroy says EBUSY while it is not 0.
//     __kind    the type in bits 0-1 (normal, recursive, errorcheck,
//               adaptive) and glibc's elision flags (256, 512). Any other
//               bit - robust (16), priority inheritance (32) or protection
//               (64), process-shared (128), or -1 after destroy - makes the
//               mutex libc's: every call about it goes to libc unchanged.
//   The fast paths are a CAS 0 -> 1 to lock and an exchange to unlock: no
//   system call, no hub call. Only an unlock that finds 2 calls unpark_one.
//   Adaptive mutexes do not spin: a green owner cannot run while its
//   waiter spins on the same hub.
//
// Invariants
//   - An unlock touches the mutex only up to its exchange on __lock: the
//     next owner may destroy and free it at once (unpark_one needs only the
//     address).
//   - A timed lock checks its deadline only when it must block, as glibc:
//     the owner relocking, or an uncontended lock, never looks at it.
#include "pthread_mutex.hpp"

#include <pthread.h>

#include <cerrno>

#include "busy_poll.hpp"
#include "parking_lot.hpp"
#include "sync_wait.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

constexpr int kTypeMask = 3;              // glibc's PTHREAD_MUTEX_KIND_MASK_NP
constexpr int kElisionFlags = 256 | 512;  // PTHREAD_MUTEX_ELISION_NP | _NO_ELISION_NP

enum : int { kUnlocked = 0, kLocked = 1, kContended = 2 };

inline int load_relaxed(const int* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
inline void store_relaxed(int* p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

inline int kind_of(const pthread_mutex_t* m) { return load_relaxed(&m->__data.__kind); }
inline bool is_green_kind(int kind) { return (kind & ~(kTypeMask | kElisionFlags)) == 0; }

inline bool try_acquire_word(int* word) {
  int expected = kUnlocked;
  return __atomic_compare_exchange_n(word, &expected, kLocked, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}

// The contended lock: mark the word contended and park until an unlock
// hands it over, or the deadline passes.
int acquire_word_slow(int* word, const timespec* abstime, clockid_t clock) {
  WaitingOn label("pthread_mutex_lock");
  AbsDeadline deadline;
  bool deadline_checked = false;
  while (__atomic_exchange_n(word, kContended, __ATOMIC_ACQUIRE) != kUnlocked) {
    if (!deadline_checked) {
      if (int rc = blocking_deadline(abstime, clock, &deadline); rc != 0) return rc;
      deadline_checked = true;
    }
    if (deadline.expired()) return ETIMEDOUT;
    // Not a cancellation point: an interrupted park just parks again.
    ParkResult r = ParkingLot::park(
        word, [word] { return load_relaxed(word) == kContended; }, deadline);
    if (r == ParkResult::kTimedOut) return ETIMEDOUT;
  }
  return 0;
}

inline void release_word(int* word) {
  if (__atomic_exchange_n(word, kUnlocked, __ATOMIC_RELEASE) == kContended) {
    ParkingLot::unpark_one(word);
  }
}

enum class How { kBlock, kTry };

// glibc's lock of a mutex of ours; count_user is false for a condvar's
// re-acquire (glibc's __pthread_mutex_cond_lock).
inline int lock_green(pthread_mutex_t* m, int type, How how, const timespec* abstime,
                      clockid_t clock, bool count_user) {
  const int self = static_cast<int>(current_owner_id());
  if (type == PTHREAD_MUTEX_RECURSIVE) {
    if (load_relaxed(&m->__data.__owner) == self) {
      if (m->__data.__count + 1 == 0) return EAGAIN;
      ++m->__data.__count;
      return 0;
    }
  } else if (type == PTHREAD_MUTEX_ERRORCHECK && how == How::kBlock) {
    if (load_relaxed(&m->__data.__owner) == self) return EDEADLK;
  }
  int* word = &m->__data.__lock;
  if (!try_acquire_word(word)) {
    if (how == How::kTry) return EBUSY;
    if (int rc = acquire_word_slow(word, abstime, clock); rc != 0) return rc;
  }
  if (type == PTHREAD_MUTEX_RECURSIVE) m->__data.__count = 1;
  store_relaxed(&m->__data.__owner, self);
  if (count_user) ++m->__data.__nusers;
  return 0;
}

inline int unlock_green(pthread_mutex_t* m, int type, bool count_user) {
  if (type == PTHREAD_MUTEX_RECURSIVE) {
    if (load_relaxed(&m->__data.__owner) != static_cast<int>(current_owner_id())) return EPERM;
    if (--m->__data.__count != 0) return 0;
  } else if (type == PTHREAD_MUTEX_ERRORCHECK) {
    if (load_relaxed(&m->__data.__owner) != static_cast<int>(current_owner_id()) ||
        load_relaxed(&m->__data.__lock) == kUnlocked) {
      return EPERM;
    }
  }
  store_relaxed(&m->__data.__owner, 0);
  if (count_user) --m->__data.__nusers;
  release_word(&m->__data.__lock);
  return 0;
}

}  // namespace

namespace greenhub::preload {

int mutex_release_for_wait(pthread_mutex_t* m) {
  const int kind = kind_of(m);
  if (!is_green_kind(kind)) return GREENHUB_REAL(pthread_mutex_unlock)(m);
  return unlock_green(m, kind & kTypeMask, false);
}

int mutex_reacquire_after_wait(pthread_mutex_t* m) {
  const int kind = kind_of(m);
  if (!is_green_kind(kind)) return GREENHUB_REAL(pthread_mutex_lock)(m);
  return lock_green(m, kind & kTypeMask, How::kBlock, nullptr, CLOCK_REALTIME, false);
}

}  // namespace greenhub::preload

extern "C" {

// libc's init writes glibc's layout (and checks the attributes) for us.
int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
  return GREENHUB_REAL(pthread_mutex_init)(m, attr);
}

int pthread_mutex_destroy(pthread_mutex_t* m) {
  if (!is_green_kind(kind_of(m))) return GREENHUB_REAL(pthread_mutex_destroy)(m);
  if (__atomic_load_n(&m->__data.__nusers, __ATOMIC_RELAXED) != 0) return EBUSY;
  store_relaxed(&m->__data.__kind, -1);  // as glibc: later calls say EINVAL
  return 0;
}

int pthread_mutex_lock(pthread_mutex_t* m) {
  const int kind = kind_of(m);
  if (!is_green_kind(kind)) return GREENHUB_REAL(pthread_mutex_lock)(m);
  note_running();
  return lock_green(m, kind & kTypeMask, How::kBlock, nullptr, CLOCK_REALTIME, true);
}

int pthread_mutex_trylock(pthread_mutex_t* m) {
  const int kind = kind_of(m);
  if (!is_green_kind(kind)) return GREENHUB_REAL(pthread_mutex_trylock)(m);
  note_running();
  return lock_green(m, kind & kTypeMask, How::kTry, nullptr, CLOCK_REALTIME, true);
}

int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* abstime) {
  const int kind = kind_of(m);
  if (!is_green_kind(kind)) return GREENHUB_REAL(pthread_mutex_timedlock)(m, abstime);
  return lock_green(m, kind & kTypeMask, How::kBlock, abstime, CLOCK_REALTIME, true);
}

int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const struct timespec* abstime) {
  if (!futex_clock_supported(clock)) return EINVAL;
  const int kind = kind_of(m);
  if (!is_green_kind(kind)) return GREENHUB_REAL(pthread_mutex_clocklock)(m, clock, abstime);
  return lock_green(m, kind & kTypeMask, How::kBlock, abstime, clock, true);
}

int pthread_mutex_unlock(pthread_mutex_t* m) {
  const int kind = kind_of(m);
  if (!is_green_kind(kind)) return GREENHUB_REAL(pthread_mutex_unlock)(m);
  return unlock_green(m, kind & kTypeMask, true);
}

// Only robust mutexes can be made consistent, and those are libc's; for
// every other mutex libc reads the kind and says EINVAL.
int pthread_mutex_consistent(pthread_mutex_t* m) { return GREENHUB_REAL(pthread_mutex_consistent)(m); }

// Compat names that binaries built against older glibc still import.
int __pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
  return pthread_mutex_init(m, attr);
}
int __pthread_mutex_destroy(pthread_mutex_t* m) { return pthread_mutex_destroy(m); }
int __pthread_mutex_lock(pthread_mutex_t* m) { return pthread_mutex_lock(m); }
int __pthread_mutex_trylock(pthread_mutex_t* m) { return pthread_mutex_trylock(m); }
int __pthread_mutex_unlock(pthread_mutex_t* m) { return pthread_mutex_unlock(m); }

}  // extern "C"
