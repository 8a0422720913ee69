// The jump between two greenlets' contexts (see context_switch.hpp).
//
// Boost.Context's jump_fcontext (Debian's 1.74, x86-64 SysV) saves the
// callee-saved registers and the MXCSR / x87 control words below the return
// address, swaps stack pointers, restores the other side's and ends with
// `jmp *%r8` to the other side's return address. That jump leaves the
// CPU's return-stack buffer one call deeper than the code that resumes:
// every `ret` after the switch is then predicted to the wrong place, three
// mispredictions per switch in the hub's call chain (switch_to, yield,
// sleep), about two thirds of a yield's cost on this machine.
//
// jump_context does exactly what jump_fcontext does, with the same frame
// layout (so contexts made by make_fcontext, and the greenlet snapshot and
// gdb code that read saved frames, are unchanged), but returns into the
// other context with `ret`: the return-stack buffer pops the entry the
// caller's `call` pushed, which is the right prediction whenever both sides
// switched from the same call site, as greenlets parked by the hub do.
// (Skipping the MXCSR / x87 control word reloads when unchanged was tried:
// no measurable gain, so the jump keeps Boost's exact sequence.)
//
// Limits: x86-64 only (elsewhere Boost's jump_fcontext is used as is); not
// compatible with a CET shadow stack (neither is Boost 1.74's code; Debian
// 12 does not enable it).
#include "context_switch.hpp"

#if defined(__x86_64__)
// transfer_t jump_context(fcontext_t to /* rdi */, void* data /* rsi */):
// returns, in the resumed context, {rax: the context we came from, rdx:
// data}; a fresh context's entry function gets the same in rdi and rsi.
asm(R"(
  .text
  .globl greenhub_jump_context
  .hidden greenhub_jump_context
  .type greenhub_jump_context, @function
  .p2align 4
greenhub_jump_context:
  leaq   -0x38(%rsp), %rsp
  stmxcsr (%rsp)
  fnstcw 0x4(%rsp)
  movq   %r12, 0x8(%rsp)
  movq   %r13, 0x10(%rsp)
  movq   %r14, 0x18(%rsp)
  movq   %r15, 0x20(%rsp)
  movq   %rbx, 0x28(%rsp)
  movq   %rbp, 0x30(%rsp)
  movq   %rsp, %rax
  movq   %rdi, %rsp
  ldmxcsr (%rsp)
  fldcw  0x4(%rsp)
  movq   0x8(%rsp), %r12
  movq   0x10(%rsp), %r13
  movq   0x18(%rsp), %r14
  movq   0x20(%rsp), %r15
  movq   0x28(%rsp), %rbx
  movq   0x30(%rsp), %rbp
  leaq   0x38(%rsp), %rsp
  movq   %rsi, %rdx
  movq   %rax, %rdi
  ret
  .size greenhub_jump_context, .-greenhub_jump_context
)");
#endif
