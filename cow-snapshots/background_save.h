// BackgroundSave: a VmTemplate written to a snapshot file by a thread of its own while the
// VMs restored from the template run on, so the guest stands still only while it is frozen,
// not for the encode, the compression and the synced write.
//
//   auto tmpl = std::make_shared<VmTemplate>(owner, memory, config, state);
//   BackgroundSave save(tmpl, "vm.snap", {.compress = true, .parent = nullptr, .parent_name = {}});
//   ... run the VM that goes on ...
//   const BackgroundSave::Result& r = save.finish();   // r.error: empty, or why there is no file
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "cow-snapshots/snapshot_file.h"
#include "cow-snapshots/vm_template.h"

namespace densevm::snapshot {

class BackgroundSave {
 public:
  struct Result {
    SaveStats stats;
    double seconds = 0;  // encode and write, on the saving thread
    std::string error;   // one line; empty once the file is under its name
  };

  // Starts the thread. The save reads the template and, for a diff, options.parent, which
  // must outlive it. A full save needs a template with nothing left in a source of its own
  // (GuestMemory::materialize before freezing: a fetch would change the frozen memory);
  // throws std::logic_error otherwise.
  BackgroundSave(std::shared_ptr<VmTemplate> frozen, std::string path, SaveOptions options);
  // Waits for the thread (an abandoned save still ends with a whole file or none).
  ~BackgroundSave();
  BackgroundSave(const BackgroundSave&) = delete;
  BackgroundSave& operator=(const BackgroundSave&) = delete;

  // Waits for the save to end.
  [[nodiscard]] const Result& finish();
  // Whether the save has ended (finish() then returns at once).
  [[nodiscard]] bool done() const { return done_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<VmTemplate> frozen_;
  std::string path_;
  SaveOptions options_;
  Result result_;
  std::atomic<bool> done_{false};
  std::thread thread_;  // last: starts once everything it reads is in place
};

}  // namespace densevm::snapshot
