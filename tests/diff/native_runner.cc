#include "tests/diff/native_runner.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>

extern "C" {
void densevm_diff_enter(const densevm::diff::CpuRegs* in, uint64_t entry);
void densevm_diff_exit();
extern densevm::diff::CpuRegs densevm_diff_out;
}

namespace densevm::diff {
namespace {

constexpr size_t kMaxChunks = 160;
constexpr unsigned kCaseTimeoutSeconds = 1;

// One case's result in the shared area; plain data, written by the child only.
struct Slot {
  uint32_t done;
  uint32_t kind;
  int32_t signal;
  int32_t si_code;
  uint64_t trapno, error_code, fault_address, rip;
  CpuRegs regs;
  uint32_t chunk_count;
  uint16_t chunk_index[kMaxChunks];
  uint8_t chunk_bytes[kMaxChunks][kChunkSize];
};

struct SharedHeader {
  char setup_error[160];
};

Slot* g_slot = nullptr;
sigjmp_buf g_resume;
volatile sig_atomic_t g_in_snippet = 0;
alignas(16) uint8_t g_alt_stack[1 << 16];
alignas(64) uint8_t g_initial[kDataSize];

void on_signal(int sig, siginfo_t* info, void* context) {
  if (!g_in_snippet) {
    if (sig == SIGALRM) return;  // raced with the end of the snippet
    signal(sig, SIG_DFL);
    return;  // re-executes the faulting host instruction, now with the default action
  }
  g_in_snippet = 0;
  Slot* s = g_slot;
  if (sig == SIGALRM) {
    s->kind = static_cast<uint32_t>(NativeOutcome::Kind::kTimeout);
    siglongjmp(g_resume, 1);
  }
  const auto* uc = static_cast<const ucontext_t*>(context);
  const greg_t* g = uc->uc_mcontext.gregs;
  static constexpr int kOrder[kGprCount] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                            REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                            REG_R12, REG_R13, REG_R14, REG_R15};
  for (unsigned i = 0; i < kGprCount; ++i) s->regs.gpr[i] = static_cast<uint64_t>(g[kOrder[i]]);
  s->regs.rflags = static_cast<uint64_t>(g[REG_EFL]);
  // The kernel saved the snippet's x87/SSE state for the signal; its first 512 bytes are an
  // FXSAVE image (XSAVE's legacy area).
  if (uc->uc_mcontext.fpregs != nullptr) {
    std::memcpy(s->regs.fx.data(), uc->uc_mcontext.fpregs, s->regs.fx.size());
  }
  s->rip = static_cast<uint64_t>(g[REG_RIP]);
  s->trapno = static_cast<uint64_t>(g[REG_TRAPNO]);
  s->error_code = static_cast<uint64_t>(g[REG_ERR]);
  s->fault_address = reinterpret_cast<uint64_t>(info->si_addr);
  s->signal = sig;
  s->si_code = info->si_code;
  s->kind = static_cast<uint32_t>(NativeOutcome::Kind::kException);
  siglongjmp(g_resume, 1);
}

void fail_setup(SharedHeader* h, const char* what) {
  std::snprintf(h->setup_error, sizeof h->setup_error, "%s: %s", what, std::strerror(errno));
  _exit(2);
}

void record_changes(Slot* s) {
  const auto* data = reinterpret_cast<const uint8_t*>(kDataBase);
  for (uint32_t off = 0; off < kDataSize; off += kChunkSize) {
    if (std::memcmp(data + off, g_initial + off, kChunkSize) == 0) continue;
    if (s->chunk_count == kMaxChunks) {
      s->kind = static_cast<uint32_t>(NativeOutcome::Kind::kTooManyWrites);
      return;
    }
    s->chunk_index[s->chunk_count] = static_cast<uint16_t>(off / kChunkSize);
    std::memcpy(s->chunk_bytes[s->chunk_count], data + off, kChunkSize);
    ++s->chunk_count;
  }
}

void run_one(const DiffCase& c, Slot* s) {
  initial_data(c, std::span<uint8_t, kDataSize>(g_initial, kDataSize));
  std::memcpy(reinterpret_cast<void*>(kDataBase), g_initial, kDataSize);
  auto* code = reinterpret_cast<uint8_t*>(kCodeBase);
  const std::array<uint8_t, 14> exit = native_exit_jump();
  if (c.code.size() + exit.size() > kCodeSize) {
    s->kind = static_cast<uint32_t>(NativeOutcome::Kind::kLost);
    return;
  }
  if (!c.code.empty()) std::memcpy(code, c.code.data(), c.code.size());
  std::memcpy(code + c.code.size(), exit.data(), exit.size());
  g_slot = s;
  if (sigsetjmp(g_resume, 1) == 0) {
    alarm(kCaseTimeoutSeconds);
    g_in_snippet = 1;
    densevm_diff_enter(&c.in, kCodeBase);
    g_in_snippet = 0;
    alarm(0);
    s->kind = static_cast<uint32_t>(NativeOutcome::Kind::kCompleted);
    s->regs = densevm_diff_out;
    s->rip = kCodeBase + c.code.size();
  }
  alarm(0);
  record_changes(s);
}

[[noreturn]] void child_main(std::span<const DiffCase> cases, SharedHeader* h, Slot* slots) {
  const int prot = PROT_READ | PROT_WRITE;
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
  if (mmap(reinterpret_cast<void*>(kDataBase), kDataSize, prot, flags, -1, 0) == MAP_FAILED)
    fail_setup(h, "mmap data region");
  if (mmap(reinterpret_cast<void*>(kCodeBase), kCodeSize, prot | PROT_EXEC, flags, -1, 0) ==
      MAP_FAILED)
    fail_setup(h, "mmap code region");
  stack_t alt{};
  alt.ss_sp = g_alt_stack;
  alt.ss_size = sizeof g_alt_stack;
  if (sigaltstack(&alt, nullptr) != 0) fail_setup(h, "sigaltstack");
  struct sigaction sa {};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGALRM}) {
    if (sigaction(sig, &sa, nullptr) != 0) fail_setup(h, "sigaction");
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    run_one(cases[i], &slots[i]);
    slots[i].done = 1;
  }
  _exit(0);
}

NativeOutcome to_outcome(const Slot& s) {
  NativeOutcome out;
  if (!s.done) return out;
  out.kind = static_cast<NativeOutcome::Kind>(s.kind);
  out.signal = s.signal;
  out.si_code = s.si_code;
  out.vector = static_cast<uint8_t>(s.trapno);
  out.error_code = s.error_code;
  out.fault_address = s.fault_address;
  out.rip = s.rip;
  out.regs = s.regs;
  out.changed.resize(s.chunk_count);
  for (uint32_t i = 0; i < s.chunk_count; ++i) {
    out.changed[i].offset = static_cast<uint32_t>(s.chunk_index[i] * kChunkSize);
    std::memcpy(out.changed[i].bytes.data(), s.chunk_bytes[i], kChunkSize);
  }
  return out;
}

}  // namespace

std::array<uint8_t, 14> native_exit_jump() {
  std::array<uint8_t, 14> jump = {0xFF, 0x25, 0, 0, 0, 0};  // jmp qword ptr [rip+0]
  const auto target = reinterpret_cast<uint64_t>(&densevm_diff_exit);
  std::memcpy(&jump[6], &target, 8);
  return jump;
}

std::vector<NativeOutcome> run_native(std::span<const DiffCase> cases) {
  const size_t bytes = sizeof(SharedHeader) + sizeof(Slot) * cases.size();
  void* area = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) throw std::runtime_error("run_native: cannot map the shared area");
  auto* header = static_cast<SharedHeader*>(area);
  auto* slots = reinterpret_cast<Slot*>(static_cast<uint8_t*>(area) + sizeof(SharedHeader));
  std::fflush(nullptr);  // the child exits with _exit; nothing buffered may be written twice
  const pid_t pid = fork();
  if (pid < 0) {
    munmap(area, bytes);
    throw std::runtime_error("run_native: fork failed");
  }
  if (pid == 0) child_main(cases, header, slots);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string setup_error(header->setup_error);
  std::vector<NativeOutcome> outcomes;
  outcomes.reserve(cases.size());
  for (size_t i = 0; i < cases.size(); ++i) outcomes.push_back(to_outcome(slots[i]));
  munmap(area, bytes);
  if (!setup_error.empty()) throw std::runtime_error("run_native child: " + setup_error);
  return outcomes;
}

std::string describe(const NativeOutcome& out) {
  char buf[160];
  switch (out.kind) {
    case NativeOutcome::Kind::kCompleted: return "completed";
    case NativeOutcome::Kind::kTimeout: return "timed out natively";
    case NativeOutcome::Kind::kTooManyWrites: return "wrote too much data natively";
    case NativeOutcome::Kind::kLost: return "native child died before finishing";
    case NativeOutcome::Kind::kException: break;
  }
  std::snprintf(buf, sizeof buf, "exception vector %u (signal %d si_code %d) error code %#llx "
                "address %#llx at rip %#llx", out.vector, out.signal, out.si_code,
                static_cast<unsigned long long>(out.error_code),
                static_cast<unsigned long long>(out.fault_address),
                static_cast<unsigned long long>(out.rip));
  return buf;
}

}  // namespace densevm::diff
