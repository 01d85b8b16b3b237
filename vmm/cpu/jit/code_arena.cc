#include "vmm/cpu/jit/code_arena.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace densevm::cpu::jit {
namespace {

constexpr uintptr_t kHugeAlign = uintptr_t{2} << 20;
// rel32 reaches +-2 GiB: an RX view within 1 GiB of this code keeps calls into the
// handlers direct whatever the arena's size (at most 256 MiB here).
constexpr uintptr_t kNear = uintptr_t{1} << 30;

// Maps the RX view near `anchor` if a free range is found there, else anywhere.
void* map_executable(int fd, size_t bytes) {
  const auto anchor = reinterpret_cast<uintptr_t>(&map_executable) & ~(kHugeAlign - 1);
  for (uintptr_t distance = kNear / 8; distance <= kNear; distance += kNear / 8) {
    for (const uintptr_t hint : {anchor - distance - bytes, anchor + distance}) {
      void* p = mmap(reinterpret_cast<void*>(hint), bytes, PROT_READ | PROT_EXEC,
                     MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
      if (p != MAP_FAILED) return p;
    }
  }
  return mmap(nullptr, bytes, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
}

}  // namespace

std::unique_ptr<CodeArena> CodeArena::create(size_t capacity, std::string* error) {
  // Mapped whole huge pages at a time; only `capacity` bytes of it are ever handed out.
  const size_t bytes = (capacity + kHugeAlign - 1) & ~(kHugeAlign - 1);
  const int fd = memfd_create("densevm-jit", MFD_CLOEXEC);
  if (fd < 0) {
    *error = std::string("memfd_create: ") + std::strerror(errno);
    return nullptr;
  }
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    *error = std::string("ftruncate of the code arena: ") + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  void* rw = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* rx = rw == MAP_FAILED ? MAP_FAILED : map_executable(fd, bytes);
  const int saved = errno;
  close(fd);  // the mappings keep the memory; no descriptor per VM stays open
  if (rw == MAP_FAILED || rx == MAP_FAILED) {
    *error = std::string("mapping the code arena: ") + std::strerror(saved);
    if (rw != MAP_FAILED) munmap(rw, bytes);
    return nullptr;
  }
  return std::unique_ptr<CodeArena>(
      new CodeArena(static_cast<uint8_t*>(rx), static_cast<uint8_t*>(rw), bytes, capacity & ~(kAlign - 1)));
}

CodeArena::~CodeArena() {
  munmap(rx_, mapped_);
  munmap(rw_, mapped_);
}

uint8_t* CodeArena::allocate(size_t n) {
  const size_t size = (n + kAlign - 1) & ~(kAlign - 1);
  if (size > capacity_ - used_) return nullptr;
  uint8_t* p = rx_ + used_;
  used_ += size;
  return p;
}

void CodeArena::reset(size_t keep) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t from = (keep + page - 1) & ~(page - 1);
  // Shared memory: MADV_REMOVE frees the pages behind both views.
  if (from < used_) madvise(rw_ + from, ((used_ + page - 1) & ~(page - 1)) - from, MADV_REMOVE);
  used_ = (keep + kAlign - 1) & ~(kAlign - 1);
}

}  // namespace densevm::cpu::jit
