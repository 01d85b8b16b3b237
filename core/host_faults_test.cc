#include "core/host_faults.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstddef>
#include <thread>

namespace densevm {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = 64;

// A fresh anonymous mapping of kPages pages, each its own fault (no huge page).
char* fresh_pages() {
  void* p = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, kPages * kPage, MADV_NOHUGEPAGE);
  return static_cast<char*>(p);
}

TEST(FaultWindow, CountsEachFirstTouchOfAFreshPage) {
  char* mem = fresh_pages();
  ASSERT_NE(mem, nullptr);
  const FaultWindow window;
  for (size_t i = 0; i < kPages; ++i) mem[i * kPage] = 1;
  const uint64_t first = window.faults();
  EXPECT_GE(first, kPages);
  EXPECT_LT(first, kPages + 16);  // the test's own stack and bookkeeping at most
  // Touching them again is no fault: the pages are there now.
  const FaultWindow again;
  for (size_t i = 0; i < kPages; ++i) mem[i * kPage] = 2;
  EXPECT_LT(again.faults(), 8u);
  munmap(mem, kPages * kPage);
}

// Another thread's faults are not the window's: a pause counts the thread that pauses.
TEST(FaultWindow, CountsOnlyTheCallingThread) {
  constexpr size_t kThreadPages = 1024;
  void* p = mmap(nullptr, kThreadPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  madvise(p, kThreadPages * kPage, MADV_NOHUGEPAGE);
  char* mem = static_cast<char*>(p);
  const FaultWindow window;
  std::thread([mem] {
    for (size_t i = 0; i < kThreadPages; ++i) mem[i * kPage] = 1;
  }).join();
  // Starting the thread faults in a little of this one (its stack's guard and control block).
  EXPECT_LT(window.faults(), kThreadPages / 4);
  munmap(mem, kThreadPages * kPage);
}

}  // namespace
}  // namespace densevm
