// Green spin locks: pthread_spin_{init,destroy,lock,trylock,unlock}.
//
// How it works
//   The lock is the program's int, as in glibc: 0 free, 1 held, taken with
//   an atomic exchange. A green thread that finds it held yields to its hub
//   between attempts instead of burning the hub's OS thread: the holder is
//   often a green thread of the same hub that can only release the lock
//   once it runs again. Any other caller spins with pause, as glibc does.
#include <pthread.h>

#include <cerrno>

#include "sync_wait.hpp"

using namespace greenhub;
using namespace greenhub::preload;

namespace {

inline bool try_take(volatile int* lock) {
  return __atomic_exchange_n(const_cast<int*>(lock), 1, __ATOMIC_ACQUIRE) == 0;
}
inline bool held(volatile int* lock) {
  return __atomic_load_n(const_cast<int*>(lock), __ATOMIC_RELAXED) != 0;
}

}  // namespace

extern "C" {

int pthread_spin_init(pthread_spinlock_t* lock, int pshared) {
  (void)pshared;  // glibc accepts any value and ignores it
  __atomic_store_n(const_cast<int*>(lock), 0, __ATOMIC_RELAXED);
  return 0;
}

int pthread_spin_destroy(pthread_spinlock_t* lock) {
  (void)lock;
  return 0;
}

int pthread_spin_lock(pthread_spinlock_t* lock) {
  if (try_take(lock)) return 0;
  Hub* hub = green_hub();
  WaitingOn label("pthread_spin_lock");
  do {
    while (held(lock)) {
      if (hub != nullptr) hub->yield();
      else __builtin_ia32_pause();
    }
  } while (!try_take(lock));
  return 0;
}

int pthread_spin_trylock(pthread_spinlock_t* lock) { return try_take(lock) ? 0 : EBUSY; }

int pthread_spin_unlock(pthread_spinlock_t* lock) {
  __atomic_store_n(const_cast<int*>(lock), 0, __ATOMIC_RELEASE);
  return 0;
}

}  // extern "C"
