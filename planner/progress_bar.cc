#include "planner/progress_bar.h"

#include <unistd.h>

#include "planner/format.h"

namespace densevm::planner {

ProgressBar::ProgressBar(std::string label, Unit unit, std::FILE* out)
    : label_(std::move(label)), unit_(unit), out_(out), terminal_(::isatty(::fileno(out)) != 0) {}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!terminal_ || total == 0) return;
  const auto now = Clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
  last_ = now;
  constexpr int kWidth = 30;
  const double f = static_cast<double>(done) / static_cast<double>(total);
  const int filled = static_cast<int>(f * kWidth);
  const double seconds = std::chrono::duration<double>(now - start_).count();
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  if (unit_ == Unit::kItems) {
    std::fprintf(out_, "\r\033[K%s [%s] %3.0f%% %llu/%llu", label_.c_str(), bar.c_str(), f * 100,
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
  } else {
    std::fprintf(out_, "\r\033[K%s [%s] %3.0f%% %s/%s %.0f MB/s", label_.c_str(), bar.c_str(), f * 100,
                 format_bytes(done).c_str(), format_bytes(total).c_str(),
                 seconds > 0 ? static_cast<double>(done) / seconds / 1e6 : 0.0);
  }
  std::fflush(out_);
  drawn_ = true;
}

void ProgressBar::done() {
  if (!drawn_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace densevm::planner
