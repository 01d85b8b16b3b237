// FrameRefs: frame references held by a saved state — a checkpoint of a service that owns
// frames (the dedup scanner's merged pages) — so that the frames outlive the service's own
// references until the state is restored or dropped. A copy holds references of its own.
//
//   FrameRefs refs(frames, {a, b});   // retains a and b
//   FrameRefs copy = refs;            // retains them again
//   // both release theirs when they go
#pragma once

#include <utility>
#include <vector>

#include "core/frame_store.h"
#include "core/types.h"

namespace densevm {

class FrameRefs {
 public:
  FrameRefs() = default;
  FrameRefs(FrameStore& frames, std::vector<Hpa> held) : frames_(&frames), held_(std::move(held)) { retain(); }
  FrameRefs(const FrameRefs& other) : frames_(other.frames_), held_(other.held_) { retain(); }
  FrameRefs(FrameRefs&& other) noexcept : frames_(other.frames_), held_(std::move(other.held_)) { other.held_.clear(); }
  FrameRefs& operator=(FrameRefs other) noexcept {
    std::swap(frames_, other.frames_);
    std::swap(held_, other.held_);
    return *this;
  }
  ~FrameRefs() {
    for (const Hpa hpa : held_) frames_->release(hpa);
  }

  [[nodiscard]] size_t size() const { return held_.size(); }

 private:
  void retain() {
    for (const Hpa hpa : held_) frames_->retain(hpa);
  }
  FrameStore* frames_ = nullptr;
  std::vector<Hpa> held_;
};

}  // namespace densevm
