// PageSource: where a guest page's first contents come from when it is not all zeros — a
// snapshot being restored lazily, or one shared by clones.
//
// GuestMemory asks its source when the guest (or the host) first touches a page that has no
// frame; a page the source does not hold starts zeroed, as usual. A shared source hands every
// VM the same frame, which GuestMemory maps read-only so that the first write copies it.
//
//   memory.set_source(image);                  // before the VM runs
//   memory.populate(Gpa{0x200000});            // fetched from the image, not zeroed
#pragma once

#include <cstdint>
#include <functional>

#include "core/types.h"

namespace densevm {

class PageSource {
 public:
  enum class Fetch : uint8_t {
    kAbsent,       // not in the source: the page starts zeroed
    kShared,       // *hpa: a frame others may map too; map it read-only (copy-on-write)
    kPrivate,      // *hpa: a frame for this page alone; map it writable
    kCorrupt,      // the source's copy failed its checksum: the page cannot be restored
    kOutOfFrames,  // no host frame to put it in
  };
  virtual ~PageSource() = default;
  // The contents of guest page `page` (page-aligned). On kShared and kPrivate the caller
  // owns one reference of *hpa. Thread-safe: VMs running on different threads share one.
  [[nodiscard]] virtual Fetch fetch(Gpa page, Hpa* hpa) = 0;
  // Every page the source holds, ascending (what GuestMemory::materialize fetches).
  virtual void for_each_held_page(const std::function<void(Gpa)>& visit) const = 0;
  // The FrameStore pool (a NUMA node's) to put the frames it loads in, when it loads any: the
  // first VM restored from it says, before its first fetch. A source serving frames that
  // exist already (a template) ignores it.
  virtual void prefer_pool(uint32_t /*pool*/) {}
};

}  // namespace densevm
