// C11 <threads.h> synchronization: mtx_*, cnd_*, tss_*, call_once.
//
// glibc implements each of them with a direct internal call to its pthread
// counterpart (__pthread_mutex_lock, __pthread_cond_wait, ...), which never
// reaches an interposed name: each is interposed here and forwarded to the
// green pthread function, with glibc's mapping of error codes to thrd_*
// results. mtx_init is libc's own (it only writes the mutex's layout).
#include <pthread.h>
#include <threads.h>

#include <cerrno>

#include "real.hpp"

namespace {

// glibc's thrd_err_map.
int thrd_result(int rc) {
  switch (rc) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    default: return thrd_error;
  }
}

pthread_mutex_t* as_mutex(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* as_cond(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t));
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t));
static_assert(sizeof(once_flag) == sizeof(pthread_once_t));
static_assert(sizeof(tss_t) == sizeof(pthread_key_t));

}  // namespace

extern "C" {

int mtx_init(mtx_t* m, int type) { return GREENHUB_REAL(mtx_init)(m, type); }
int mtx_lock(mtx_t* m) { return thrd_result(pthread_mutex_lock(as_mutex(m))); }
int mtx_trylock(mtx_t* m) { return thrd_result(pthread_mutex_trylock(as_mutex(m))); }
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict abstime) {
  return thrd_result(pthread_mutex_timedlock(as_mutex(m), abstime));
}
int mtx_unlock(mtx_t* m) { return thrd_result(pthread_mutex_unlock(as_mutex(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(as_mutex(m)); }

int cnd_init(cnd_t* c) { return thrd_result(pthread_cond_init(as_cond(c), nullptr)); }
int cnd_signal(cnd_t* c) { return thrd_result(pthread_cond_signal(as_cond(c))); }
int cnd_broadcast(cnd_t* c) { return thrd_result(pthread_cond_broadcast(as_cond(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return thrd_result(pthread_cond_wait(as_cond(c), as_mutex(m))); }
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict abstime) {
  return thrd_result(pthread_cond_timedwait(as_cond(c), as_mutex(m), abstime));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(as_cond(c)); }

int tss_create(tss_t* key, tss_dtor_t destructor) {
  return thrd_result(pthread_key_create(key, destructor));
}
void* tss_get(tss_t key) { return pthread_getspecific(key); }
int tss_set(tss_t key, void* value) { return thrd_result(pthread_setspecific(key, value)); }
void tss_delete(tss_t key) { pthread_key_delete(key); }

void call_once(once_flag* flag, void (*func)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), func);
}

}  // extern "C"
