// Thread-specific data (pthread_key_*, tss_*) per green thread.
//
// How it works
//   A process-wide table of PTHREAD_KEYS_MAX keys, each with a destructor
//   and a sequence number bumped on create and delete, so that a value set
//   under a deleted key is never returned for a new key in the same slot.
//   Values live in the calling green thread's GreenThread::specific, or,
//   for every other context (main(), real threads), in a thread_local
//   vector of the OS thread. Destructors run as POSIX says (up to
//   PTHREAD_DESTRUCTOR_ITERATIONS rounds) when a green thread ends, and
//   for real threads when the OS thread ends.
#pragma once

#include <vector>

#include "green_thread.hpp"

namespace greenhub::preload {

void run_specific_destructors(std::vector<SpecificSlot>& slots);

// In a child made by fork(): the key table's lock may have been held by a
// thread that does not exist there (its updates are single atomic stores,
// so the table itself is consistent).
void reset_thread_keys_in_forked_child();

}  // namespace greenhub::preload
