// pthread_key_create, pthread_key_delete, pthread_getspecific,
// pthread_setspecific (and the __pthread_* compat names): see thread_keys.hpp.
#include "thread_keys.hpp"

#include <limits.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <mutex>

#include "greenhub/spin_lock.hpp"
#include "real.hpp"

namespace greenhub::preload {
namespace {

struct KeyInfo {
  std::atomic<uint64_t> sequence{0};  // odd: in use
  std::atomic<void (*)(void*)> destructor{nullptr};
};

KeyInfo keys[PTHREAD_KEYS_MAX];
SpinLock keys_lock;

// Values of contexts that are not green threads (main(), real threads).
struct OsThreadSpecific {
  std::vector<SpecificSlot> slots;
  ~OsThreadSpecific() { run_specific_destructors(slots); }
};
thread_local OsThreadSpecific os_thread_specific;

std::vector<SpecificSlot>& current_slots() {
  if (GreenThread* t = GreenThread::current()) return t->specific;
  return os_thread_specific.slots;
}

bool key_in_use(unsigned key, uint64_t* sequence) {
  if (key >= PTHREAD_KEYS_MAX) return false;
  *sequence = keys[key].sequence.load(std::memory_order_acquire);
  return (*sequence & 1) != 0;
}

}  // namespace

void run_specific_destructors(std::vector<SpecificSlot>& slots) {
  for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; ++round) {
    bool called = false;
    for (size_t key = 0; key < slots.size(); ++key) {
      SpecificSlot& slot = slots[key];
      if (slot.value == nullptr) continue;
      void* value = slot.value;
      uint64_t sequence = 0;
      const bool live = key_in_use(static_cast<unsigned>(key), &sequence) && slot.key_sequence == sequence;
      slot.value = nullptr;
      if (!live) continue;
      if (auto destructor = keys[key].destructor.load(std::memory_order_acquire)) {
        destructor(value);
        called = true;
      }
    }
    if (!called) break;
  }
  slots.clear();
  slots.shrink_to_fit();
}

void reset_thread_keys_in_forked_child() { keys_lock.unlock(); }

}  // namespace greenhub::preload

using namespace greenhub::preload;

extern "C" {

int pthread_key_create(pthread_key_t* key, void (*destructor)(void*)) {
  std::lock_guard<greenhub::SpinLock> lock(keys_lock);
  for (unsigned k = 0; k < PTHREAD_KEYS_MAX; ++k) {
    uint64_t sequence = keys[k].sequence.load(std::memory_order_relaxed);
    if (sequence & 1) continue;
    if (sequence + 1 < sequence) continue;  // never reuse a slot whose sequence wrapped
    keys[k].destructor.store(destructor, std::memory_order_relaxed);
    keys[k].sequence.store(sequence + 1, std::memory_order_release);
    *key = k;
    return 0;
  }
  return EAGAIN;
}

int pthread_key_delete(pthread_key_t key) {
  std::lock_guard<greenhub::SpinLock> lock(keys_lock);
  uint64_t sequence = 0;
  if (!key_in_use(key, &sequence)) return EINVAL;
  keys[key].sequence.store(sequence + 1, std::memory_order_release);
  return 0;
}

void* pthread_getspecific(pthread_key_t key) {
  uint64_t sequence = 0;
  if (!key_in_use(key, &sequence)) return nullptr;
  std::vector<SpecificSlot>& slots = current_slots();
  if (key >= slots.size()) return nullptr;
  const SpecificSlot& slot = slots[key];
  return slot.key_sequence == sequence ? slot.value : nullptr;
}

int pthread_setspecific(pthread_key_t key, const void* value) {
  uint64_t sequence = 0;
  if (!key_in_use(key, &sequence)) return EINVAL;
  std::vector<SpecificSlot>& slots = current_slots();
  if (key >= slots.size()) {
    if (value == nullptr) return 0;
    slots.resize(key + 1);
  }
  slots[key].key_sequence = sequence;
  slots[key].value = const_cast<void*>(value);
  return 0;
}

int __pthread_key_create(pthread_key_t* key, void (*destructor)(void*)) {
  return pthread_key_create(key, destructor);
}
void* __pthread_getspecific(pthread_key_t key) { return pthread_getspecific(key); }
int __pthread_setspecific(pthread_key_t key, const void* value) {
  return pthread_setspecific(key, value);
}

}  // extern "C"
