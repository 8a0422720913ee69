// The machine-level switch between greenlets: contexts made by Boost.Context
// (make_fcontext), a jump between them (jump_context: Boost's jump_fcontext,
// or on x86-64 the same jump ending in `ret`, see context_switch.cpp), with
// AddressSanitizer told about each stack change.
//
// Debian's libboost-context is built with the fcontext (assembly) backend
// only, without BOOST_USE_ASAN/ucontext, so Boost's own fiber classes cannot
// annotate switches for ASan. greenhub therefore calls jump_fcontext directly
// and makes the __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber
// calls itself around every jump (compiled in only under -fsanitize=address).
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define GREENHUB_ASAN 1
#endif

namespace greenhub::detail {

using boost::context::detail::fcontext_t;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

#if defined(__x86_64__)
extern "C" transfer_t greenhub_jump_context(fcontext_t to, void* data);
inline transfer_t jump_context(fcontext_t to, void* data) { return greenhub_jump_context(to, data); }
#else
inline transfer_t jump_context(fcontext_t to, void* data) {
  return boost::context::detail::jump_fcontext(to, data);
}
#endif

// Before a jump. `fake_stack_save` is null when the source will never run
// again (a dead greenlet), so that ASan frees its fake stack.
inline void annotate_switch_start([[maybe_unused]] void** fake_stack_save,
                                  [[maybe_unused]] const void* to_bottom,
                                  [[maybe_unused]] size_t to_size) {
#ifdef GREENHUB_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, to_bottom, to_size);
#endif
}

// After a jump lands. Reports the stack we came from.
inline void annotate_switch_finish([[maybe_unused]] void* fake_stack_save,
                                   [[maybe_unused]] const void** from_bottom,
                                   [[maybe_unused]] size_t* from_size) {
#ifdef GREENHUB_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_save, from_bottom, from_size);
#endif
}

}  // namespace greenhub::detail
