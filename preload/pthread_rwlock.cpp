// Green reader-writer locks: pthread_rwlock_{init,destroy,rdlock,wrlock,
// tryrdlock,trywrlock,timedrdlock,timedwrlock,clockrdlock,clockwrlock,
// unlock} and the __pthread_rwlock_* names.
//
// How it works
//   The lock lives in the program's pthread_rwlock_t, in fields of glibc's
//   layout (libc's pthread_rwlock_init and static initializers write them):
//     __readers     the state: bit 31 write-locked, bit 30 readers parked,
//                   bits 0-29 the readers holding the lock. Readers park on
//                   its address.
//     __writers     writers waiting (registered before they park).
//     __writers_futex  the address writers park on.
//     __cur_writer  the writing owner's id (current_owner_id()): unlock
//                   tells a write unlock from a read unlock by it, and a
//                   writer asking again gets EDEADLK, as in glibc.
//     __flags       the kind: PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
//                   prefers writers; any other kind prefers readers (glibc's
//                   default: a reader joins readers even while a writer
//                   waits).
//     __shared      process-shared locks are libc's, whole.
//   Fast paths are one CAS on __readers. A write unlock clears the state and
//   wakes every parked reader and one writer (or, preferring writers, only a
//   writer while one waits); the last read unlock wakes one writer. Every
//   waker decides from the state after its own change, and a waiter
//   re-validates the state under the ParkingLot's bucket lock before it
//   sleeps, so no wake-up is lost; woken threads re-compete.
//
// Invariants
//   - A writer is counted in __writers from before its validation until it
//     owns the lock or gives up; the last one to give up while readers are
//     parked for its sake wakes them.
//   - The state and the writer count are accessed sequentially consistent:
//     a registering writer and an unlocker each change one and then read
//     the other (Dekker), so one of them sees the other.
//   - Deadlines and clocks are checked on entry, as glibc checks them
//     (EINVAL even when the lock is free), then EDEADLK.
#include <pthread.h>

#include <cerrno>
#include <cstdint>

#include "parking_lot.hpp"
#include "sync_wait.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

constexpr unsigned kWriteLocked = 1u << 31;
constexpr unsigned kReadersParked = 1u << 30;
constexpr unsigned kReaderMask = kReadersParked - 1;

struct RwLock {
  pthread_rwlock_t* rw;

  unsigned* state() const { return &rw->__data.__readers; }
  unsigned* writers_waiting() const { return &rw->__data.__writers; }
  unsigned* writer_park_word() const { return &rw->__data.__writers_futex; }
  bool shared() const { return __atomic_load_n(&rw->__data.__shared, __ATOMIC_RELAXED) != 0; }
  bool prefers_writers() const {
    return rw->__data.__flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
  }
  unsigned load_state() const { return __atomic_load_n(state(), __ATOMIC_SEQ_CST); }
  unsigned waiting_writers() const { return __atomic_load_n(writers_waiting(), __ATOMIC_SEQ_CST); }
  int writer() const { return __atomic_load_n(&rw->__data.__cur_writer, __ATOMIC_RELAXED); }
  void set_writer(int id) { __atomic_store_n(&rw->__data.__cur_writer, id, __ATOMIC_RELAXED); }

  // Whether a reader must wait in state s.
  bool reader_blocked(unsigned s) const {
    if (s & kWriteLocked) return true;
    return prefers_writers() && (s & kReaderMask) != 0 && waiting_writers() != 0;
  }
  bool cas_state(unsigned& expected, unsigned desired) {
    return __atomic_compare_exchange_n(state(), &expected, desired, true, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
  }
  // Clears the readers-parked bit and wakes those readers, if any.
  void wake_parked_readers() {
    const unsigned before = __atomic_fetch_and(state(), ~kReadersParked, __ATOMIC_SEQ_CST);
    if (before & kReadersParked) ParkingLot::unpark_all(state());
  }
};

int entry_checks(RwLock& l, const timespec* abstime, clockid_t clock) {
  if (abstime != nullptr && (!futex_clock_supported(clock) || !valid_timespec(*abstime))) return EINVAL;
  if (l.writer() == static_cast<int>(current_owner_id())) return EDEADLK;
  return 0;
}

int rdlock(pthread_rwlock_t* rw, const timespec* abstime, clockid_t clock) {
  RwLock l{rw};
  if (int rc = entry_checks(l, abstime, clock); rc != 0) return rc;
  AbsDeadline deadline;
  bool deadline_checked = false;
  unsigned s = l.load_state();
  for (;;) {
    if (!l.reader_blocked(s)) {
      if ((s & kReaderMask) == kReaderMask) return EAGAIN;
      if (l.cas_state(s, s + 1)) return 0;
      continue;
    }
    if (!(s & kReadersParked) && !l.cas_state(s, s | kReadersParked)) continue;
    if (!deadline_checked) {
      if (int rc = blocking_deadline(abstime, clock, &deadline); rc != 0) return rc;
      deadline_checked = true;
    }
    if (deadline.expired()) return ETIMEDOUT;
    WaitingOn label("pthread_rwlock_rdlock");
    ParkResult r = ParkingLot::park(
        l.state(),
        [&] {
          const unsigned now = l.load_state();
          return (now & kReadersParked) != 0 && l.reader_blocked(now);
        },
        deadline);
    if (r == ParkResult::kTimedOut) return ETIMEDOUT;
    s = l.load_state();
  }
}

// A writer that stops waiting (it owns the lock, or gave up): the last one
// out releases the readers that waited for writers.
void stop_waiting_as_writer(RwLock& l) {
  if (__atomic_fetch_sub(l.writers_waiting(), 1u, __ATOMIC_SEQ_CST) == 1 && l.prefers_writers()) {
    l.wake_parked_readers();
  }
}

int wrlock(pthread_rwlock_t* rw, const timespec* abstime, clockid_t clock) {
  RwLock l{rw};
  if (int rc = entry_checks(l, abstime, clock); rc != 0) return rc;
  const int self = static_cast<int>(current_owner_id());
  AbsDeadline deadline;
  bool waiting = false;
  unsigned s = l.load_state();
  for (;;) {
    if ((s & (kWriteLocked | kReaderMask)) == 0) {
      if (!l.cas_state(s, s | kWriteLocked)) continue;
      l.set_writer(self);
      if (waiting) stop_waiting_as_writer(l);
      return 0;
    }
    if (!waiting) {
      if (int rc = blocking_deadline(abstime, clock, &deadline); rc != 0) return rc;
      __atomic_fetch_add(l.writers_waiting(), 1u, __ATOMIC_SEQ_CST);
      waiting = true;
      s = l.load_state();
      continue;  // re-check after registering: an unlock may have missed us
    }
    if (deadline.expired()) {
      stop_waiting_as_writer(l);
      return ETIMEDOUT;
    }
    WaitingOn label("pthread_rwlock_wrlock");
    ParkResult r = ParkingLot::park(
        l.writer_park_word(),
        [&] { return (l.load_state() & (kWriteLocked | kReaderMask)) != 0; }, deadline);
    if (r == ParkResult::kTimedOut) {
      // A timed-out park consumed no wake-up (the ParkingLot passes it on).
      stop_waiting_as_writer(l);
      return ETIMEDOUT;
    }
    s = l.load_state();
  }
}

int write_unlock(RwLock& l) {
  l.set_writer(0);
  const bool handover = l.prefers_writers() && l.waiting_writers() != 0;
  unsigned s = l.load_state();
  unsigned cleared;
  do {
    cleared = s & ~kWriteLocked;
    if (!handover) cleared &= ~kReadersParked;
  } while (!l.cas_state(s, cleared));
  if (!handover && (s & kReadersParked)) ParkingLot::unpark_all(l.state());
  if (l.waiting_writers() != 0) ParkingLot::unpark_one(l.writer_park_word());
  return 0;
}

int read_unlock(RwLock& l) {
  unsigned s = l.load_state();
  do {
    if ((s & kReaderMask) == 0) return 0;  // not read-locked: nothing to release
  } while (!l.cas_state(s, s - 1));
  if ((s & kReaderMask) == 1 && l.waiting_writers() != 0) ParkingLot::unpark_one(l.writer_park_word());
  return 0;
}

}  // namespace

extern "C" {

int pthread_rwlock_init(pthread_rwlock_t* rw, const pthread_rwlockattr_t* attr) {
  return GREENHUB_REAL(pthread_rwlock_init)(rw, attr);
}

int pthread_rwlock_destroy(pthread_rwlock_t* rw) { return GREENHUB_REAL(pthread_rwlock_destroy)(rw); }

int pthread_rwlock_rdlock(pthread_rwlock_t* rw) {
  if (RwLock{rw}.shared()) return GREENHUB_REAL(pthread_rwlock_rdlock)(rw);
  return rdlock(rw, nullptr, CLOCK_REALTIME);
}

int pthread_rwlock_timedrdlock(pthread_rwlock_t* rw, const struct timespec* abstime) {
  if (RwLock{rw}.shared()) return GREENHUB_REAL(pthread_rwlock_timedrdlock)(rw, abstime);
  return rdlock(rw, abstime, CLOCK_REALTIME);
}

int pthread_rwlock_clockrdlock(pthread_rwlock_t* rw, clockid_t clock, const struct timespec* abstime) {
  if (RwLock{rw}.shared()) return GREENHUB_REAL(pthread_rwlock_clockrdlock)(rw, clock, abstime);
  return rdlock(rw, abstime, clock);
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t* rw) {
  RwLock l{rw};
  if (l.shared()) return GREENHUB_REAL(pthread_rwlock_tryrdlock)(rw);
  unsigned s = l.load_state();
  for (;;) {
    if (s & kWriteLocked) return EBUSY;
    // Preferring writers, a waiting writer turns new readers away.
    if (l.prefers_writers() && l.waiting_writers() != 0) return EBUSY;
    if ((s & kReaderMask) == kReaderMask) return EAGAIN;
    if (l.cas_state(s, s + 1)) return 0;
  }
}

int pthread_rwlock_wrlock(pthread_rwlock_t* rw) {
  if (RwLock{rw}.shared()) return GREENHUB_REAL(pthread_rwlock_wrlock)(rw);
  return wrlock(rw, nullptr, CLOCK_REALTIME);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t* rw, const struct timespec* abstime) {
  if (RwLock{rw}.shared()) return GREENHUB_REAL(pthread_rwlock_timedwrlock)(rw, abstime);
  return wrlock(rw, abstime, CLOCK_REALTIME);
}

int pthread_rwlock_clockwrlock(pthread_rwlock_t* rw, clockid_t clock, const struct timespec* abstime) {
  if (RwLock{rw}.shared()) return GREENHUB_REAL(pthread_rwlock_clockwrlock)(rw, clock, abstime);
  return wrlock(rw, abstime, clock);
}

int pthread_rwlock_trywrlock(pthread_rwlock_t* rw) {
  RwLock l{rw};
  if (l.shared()) return GREENHUB_REAL(pthread_rwlock_trywrlock)(rw);
  unsigned s = l.load_state();
  for (;;) {
    if ((s & (kWriteLocked | kReaderMask)) != 0) return EBUSY;
    if (l.cas_state(s, s | kWriteLocked)) break;
  }
  l.set_writer(static_cast<int>(current_owner_id()));
  return 0;
}

int pthread_rwlock_unlock(pthread_rwlock_t* rw) {
  RwLock l{rw};
  if (l.shared()) return GREENHUB_REAL(pthread_rwlock_unlock)(rw);
  if (l.writer() == static_cast<int>(current_owner_id())) return write_unlock(l);
  return read_unlock(l);
}

// Compat names that binaries built against older glibc still import.
int __pthread_rwlock_init(pthread_rwlock_t* rw, const pthread_rwlockattr_t* attr) {
  return pthread_rwlock_init(rw, attr);
}
int __pthread_rwlock_destroy(pthread_rwlock_t* rw) { return pthread_rwlock_destroy(rw); }
int __pthread_rwlock_rdlock(pthread_rwlock_t* rw) { return pthread_rwlock_rdlock(rw); }
int __pthread_rwlock_wrlock(pthread_rwlock_t* rw) { return pthread_rwlock_wrlock(rw); }
int __pthread_rwlock_tryrdlock(pthread_rwlock_t* rw) { return pthread_rwlock_tryrdlock(rw); }
int __pthread_rwlock_trywrlock(pthread_rwlock_t* rw) { return pthread_rwlock_trywrlock(rw); }
int __pthread_rwlock_unlock(pthread_rwlock_t* rw) { return pthread_rwlock_unlock(rw); }

}  // extern "C"
