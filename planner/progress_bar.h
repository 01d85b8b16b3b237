// ProgressBar: one line on stderr for long planner work — "vm0.snap [#####.....] 52%
// 1.1 GiB/2.0 GiB 840 MB/s", or "fingerprints [###.......] 31% 312/1000" for a count of
// items — redrawn at most ten times a second, and only on a terminal: in a pipe, a log or a
// test nothing is written.
//
//   ProgressBar bar("vm0.snap");
//   read_memory_image(path, [&](uint64_t done, uint64_t total) { bar.update(done, total); });
//   bar.done();   // clears the line
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace densevm::planner {

class ProgressBar {
 public:
  enum class Unit { kBytes, kItems };
  explicit ProgressBar(std::string label, Unit unit = Unit::kBytes, std::FILE* out = stderr);
  ~ProgressBar() { done(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `done` of `total` bytes or items.
  void update(uint64_t done, uint64_t total);
  void done();
  [[nodiscard]] bool shown() const { return terminal_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  Unit unit_;
  std::FILE* out_;
  bool terminal_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_{};
};

}  // namespace densevm::planner
