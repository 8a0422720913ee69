// The green pthread mutex, as the green condition variable needs it: a
// condvar wait releases its mutex and takes it back the way glibc's
// pthread_cond_wait does (the mutex keeps counting the waiter among its
// users, so destroying it meanwhile says EBUSY).
#pragma once

#include <pthread.h>

namespace greenhub::preload {

// Releases `mutex` for a condition wait. Returns 0, or EPERM for an
// errorcheck or recursive mutex the caller does not own (the wait must then
// fail with it). A recursive mutex locked several times is only counted
// down, as in glibc (the wait then deadlocks, as it does natively).
int mutex_release_for_wait(pthread_mutex_t* mutex);

// Takes `mutex` back after a condition wait.
int mutex_reacquire_after_wait(pthread_mutex_t* mutex);

}  // namespace greenhub::preload
