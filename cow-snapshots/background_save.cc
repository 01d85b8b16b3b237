#include "cow-snapshots/background_save.h"

#include <chrono>
#include <exception>
#include <stdexcept>
#include <utility>

namespace densevm::snapshot {

BackgroundSave::BackgroundSave(std::shared_ptr<VmTemplate> frozen, std::string path, SaveOptions options)
    : frozen_(std::move(frozen)), path_(std::move(path)), options_(std::move(options)) {
  if (options_.parent == nullptr && frozen_->memory().has_source()) {
    throw std::logic_error("a full save of a template needs its pages materialized before it was frozen");
  }
  thread_ = std::thread([this] {
    const auto start = std::chrono::steady_clock::now();
    try {
      result_.stats = save_snapshot_file(frozen_->contents(), frozen_->memory(), path_, options_);
    } catch (const std::exception& e) {
      result_.error = e.what();
    }
    result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    done_.store(true, std::memory_order_release);
  });
}

BackgroundSave::~BackgroundSave() {
  if (thread_.joinable()) thread_.join();
}

const BackgroundSave::Result& BackgroundSave::finish() {
  if (thread_.joinable()) thread_.join();
  return result_;
}

}  // namespace densevm::snapshot
