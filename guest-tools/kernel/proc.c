#include "proc.h"

#include "console.h"
#include "gdt.h"
#include "guest_abi.h"
#include "lib/string.h"
#include "paging.h"
#include "pmm.h"
#include "trap.h"
#include "uimage.h"
#include "x86.h"

#define RFLAGS_IF (1ull << 9)
#define RFLAGS_RESERVED (1ull << 1)

struct proc procs[MAX_PROCS];
struct proc *current;
static int next_pid = 1;
static uint8_t kstacks[MAX_PROCS][KSTACK_SIZE] __attribute__((aligned(16)));

uint64_t proc_kstack_top(const struct proc *p) {
  return (uint64_t)(kstacks[p - procs] + KSTACK_SIZE);
}

struct proc *proc_find(int pid) {
  for (int i = 0; i < MAX_PROCS; i++)
    if (procs[i].state != PROC_FREE && procs[i].pid == pid) return &procs[i];
  return 0;
}

/* Copies str to the top of the user stack (populating that page now); returns its user
 * address, or 0 when out of memory. */
static uint64_t push_string(struct uspace *us, const char *str) {
  uint64_t len = strlen(str) + 1, page = USER_STACK_TOP - PAGE_SIZE;
  if (len > PAGE_SIZE / 2) len = PAGE_SIZE / 2;
  if (uspace_fault(us, page) != USPACE_OK) return 0;
  uint64_t at = (USER_STACK_TOP - len) & ~15ull;
  char *dst = (char *)((*pte_walk(us->pml4, page, 1, 0) & PTE_ADDR) + (at - page));
  memcpy(dst, str, len - 1);
  dst[len - 1] = '\0';
  return at;
}

/* The new kernel stack holds a trap_frame that enters ring 3 and, below it, what swtch pops:
 * six callee-saved registers and a return address, trap_return. */
static void build_kernel_stack(struct proc *p, uint64_t rip, uint64_t rsp, uint64_t a0, uint64_t a1) {
  struct trap_frame *f = (struct trap_frame *)(proc_kstack_top(p) - sizeof *f);
  *f = (struct trap_frame){
      .rdi = a0, .rsi = a1,
      .rip = rip, .cs = SEL_UCODE, .rflags = RFLAGS_IF | RFLAGS_RESERVED,
      .rsp = rsp, .ss = SEL_UDATA,
  };
  uint64_t *sp = (uint64_t *)f;
  *--sp = (uint64_t)trap_return;
  for (int i = 0; i < 6; i++) *--sp = 0;
  p->ksp = (uint64_t)sp;
}

int proc_spawn(uint64_t entry, uint64_t arg0, uint64_t arg1, const char *str) {
  struct proc *p = 0;
  for (int i = 0; i < MAX_PROCS && !p; i++)
    if (procs[i].state == PROC_FREE) p = &procs[i];
  if (!p || entry < USER_BASE || entry >= USER_TOP) return -1;
  if (uspace_create(&p->us) != USPACE_OK) return -1;
  uint64_t image_entry = uimage_map(&p->us);
  uint64_t rsp = USER_STACK_TOP;
  if (image_entry && str) {
    arg0 = push_string(&p->us, str);
    rsp = arg0;
  }
  if (!image_entry || (str && !arg0)) {
    uspace_destroy(&p->us);
    return -1;
  }
  /* As if called: RSP + 8 is 16-byte aligned at function entry (SysV ABI). */
  build_kernel_stack(p, entry, (rsp & ~15ull) - 8, arg0, arg1);
  p->pid = next_pid++;
  p->parent = current ? current->pid : 0;
  p->state = PROC_RUNNABLE;
  return p->pid;
}

void proc_finish(int64_t status) {
  if (current->pid == 1) guest_exit((uint32_t)status);
  write_cr3(kernel_pml4); /* leave the address space before freeing it */
  uspace_destroy(&current->us);
  for (int i = 0; i < MAX_PROCS; i++) {
    if (procs[i].state == PROC_FREE || procs[i].parent != current->pid) continue;
    if (procs[i].state == PROC_ZOMBIE) procs[i].state = PROC_FREE;
    else procs[i].parent = 0;
  }
  struct proc *parent = current->parent ? proc_find(current->parent) : 0;
  current->status = status;
  current->state = parent ? PROC_ZOMBIE : PROC_FREE;
  if (parent && parent->state == PROC_WAITING && parent->wait_pid == current->pid)
    parent->state = PROC_RUNNABLE;
}
