// The interposed call an OS thread is blocked in, for the blocking monitor.
//
// How it works
//   A shim that hands a call to libc where it may block the hub's OS thread
//   (a read on a pipe or a terminal, which is not pollable greenly) wraps
//   that libc call in an InterposedCall: one store of a static string on
//   entry and one store of nullptr on exit, into an initial-exec
//   thread_local. When the monitor finds the hub stalled, its signal handler
//   runs on that OS thread and reads the marker: "read", or nullptr for
//   "outside any interposed call".
//
// Invariants
//   - Only the libc call itself is wrapped, never a green wait: nothing
//     between the two stores switches greenlets, so the marker always
//     belongs to the greenlet running on that OS thread.
//   - The name is a string literal (it outlives any report).
#pragma once

namespace greenhub::preload {

// The libc call the calling OS thread is blocked in, or nullptr.
extern thread_local const char* tls_interposed_call;

class InterposedCall {
 public:
  explicit InterposedCall(const char* name) { tls_interposed_call = name; }
  ~InterposedCall() { tls_interposed_call = nullptr; }
  InterposedCall(const InterposedCall&) = delete;
  InterposedCall& operator=(const InterposedCall&) = delete;
};

}  // namespace greenhub::preload
