// Entry into and exit from a differential-test snippet running natively (in the child that
// NativeRunner forks). The snippet runs with every GPR, RFLAGS and the FXSAVE state (x87,
// MXCSR, XMM) taken from a CpuRegs and its own stack; it ends with `jmp [rip+0]; .quad
// densevm_diff_exit`, which stores all registers without disturbing any of them before the
// store, then gives the C++ code back a clean x87 and the default MXCSR.
//
// void densevm_diff_enter(const CpuRegs* in, uint64_t entry);
// CpuRegs densevm_diff_out;  // filled by densevm_diff_exit

  .intel_syntax noprefix

  .bss
  .balign 16
  .globl densevm_diff_out
  .hidden densevm_diff_out
densevm_diff_out:
  .zero 656
densevm_diff_host_rsp:
  .zero 8
densevm_diff_entry:
  .zero 8

  .text
  .globl densevm_diff_enter
  .hidden densevm_diff_enter
  .type densevm_diff_enter, @function
densevm_diff_enter:
  push rbx
  push rbp
  push r12
  push r13
  push r14
  push r15
  mov [rip + densevm_diff_host_rsp], rsp
  mov [rip + densevm_diff_entry], rsi
  fxrstor64 [rdi + 144]
  push qword ptr [rdi + 128]
  popfq                          // from here on only MOVs: flags stay as loaded
  mov rax, [rdi + 0]
  mov rcx, [rdi + 8]
  mov rdx, [rdi + 16]
  mov rbx, [rdi + 24]
  mov rsp, [rdi + 32]
  mov rbp, [rdi + 40]
  mov rsi, [rdi + 48]
  mov r8, [rdi + 64]
  mov r9, [rdi + 72]
  mov r10, [rdi + 80]
  mov r11, [rdi + 88]
  mov r12, [rdi + 96]
  mov r13, [rdi + 104]
  mov r14, [rdi + 112]
  mov r15, [rdi + 120]
  mov rdi, [rdi + 56]
  jmp qword ptr [rip + densevm_diff_entry]
  .size densevm_diff_enter, . - densevm_diff_enter

  .globl densevm_diff_exit
  .hidden densevm_diff_exit
  .type densevm_diff_exit, @function
densevm_diff_exit:
  mov [rip + densevm_diff_out + 0], rax
  mov [rip + densevm_diff_out + 8], rcx
  mov [rip + densevm_diff_out + 16], rdx
  mov [rip + densevm_diff_out + 24], rbx
  mov [rip + densevm_diff_out + 32], rsp
  mov [rip + densevm_diff_out + 40], rbp
  mov [rip + densevm_diff_out + 48], rsi
  mov [rip + densevm_diff_out + 56], rdi
  mov [rip + densevm_diff_out + 64], r8
  mov [rip + densevm_diff_out + 72], r9
  mov [rip + densevm_diff_out + 80], r10
  mov [rip + densevm_diff_out + 88], r11
  mov [rip + densevm_diff_out + 96], r12
  mov [rip + densevm_diff_out + 104], r13
  mov [rip + densevm_diff_out + 112], r14
  mov [rip + densevm_diff_out + 120], r15
  fxsave64 [rip + densevm_diff_out + 144]
  fninit                         // no-wait: drops an x87 error the snippet left pending
  ldmxcsr [rip + densevm_diff_default_mxcsr]
  mov rsp, [rip + densevm_diff_host_rsp]
  pushfq
  pop qword ptr [rip + densevm_diff_out + 128]
  cld                            // the C ABI wants DF=0
  pop r15
  pop r14
  pop r13
  pop r12
  pop rbp
  pop rbx
  ret
  .size densevm_diff_exit, . - densevm_diff_exit

  .section .rodata
  .balign 4
densevm_diff_default_mxcsr:
  .long 0x1f80

  .section .note.GNU-stack, "", @progbits
