// DedupScanner: content-hash page sharing with copy-on-write across VMs (KSM's algorithm).
//
// Visits the mapped pages of every registered guest memory in a fixed order (member, then
// Gpa), fingerprints each private page with XXH3 and merges pages with equal bytes: both
// map one dedup-owned frame read-only (R|X) in their P2M, whose listeners drop cached
// translations, and the duplicate frame goes back to the host at the end of the step. A
// guest write to a merged page is an EPT violation that GuestMemory::break_cow answers with
// a private copy. A fingerprint only nominates: nothing merges before memcmp agrees, and a
// page that is volatile — its fingerprint changed since the previous pass, or it was
// written since the last visit at all — is left alone. Which pages were written is what
// their EPT D bits say (every writer of guest memory sets them, see GuestMemory): a page
// not written since it was hashed is not hashed again, its kept fingerprint (PageHashes)
// stands in, and a merged page costs a P2M visit until a write breaks it.
//
//   DedupScanner dedup(frames, {.scope = DedupScope::kHost});
//   for (Vm* vm : vms) dedup.add(vm->memory(), /*group=*/0);
//   scheduler.run(tick, [&] { dedup.step(rate.earn(virtual_time_elapsed())); });
//
// With a FrameStore of several pools (NUMA nodes), a merged frame goes where most of its users
// are: at the end of each pass a content frame mapped by more members of another pool (their
// GuestMemory::frame_pool) than of its own is copied to a frame of that pool and every user
// remapped to it (counted in frames_moved), so a merge across nodes leaves the fewest users
// remote. Ties stay put; the zero frame stays where it is.
//
// Not thread-safe: step() changes other VMs' P2Ms, so call it only while no VM runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "dedup/dedup_frames.h"
#include "dedup/dedup_scope.h"
#include "dedup/page_checksums.h"
#include "dedup/page_hash.h"
#include "dedup/page_hashes.h"
#include "mmu/guest_memory.h"

namespace densevm {

struct DedupConfig {
  DedupScope scope = DedupScope::kHost;
  PageHash hash = xxh3_page;  // replaceable so tests can force collisions
};

struct DedupStats {
  // Counted as the scanner works.
  uint64_t pages_scanned = 0;      // mapped pages visited
  uint64_t full_passes = 0;        // times the scan went over every member
  uint64_t merges = 0;             // guest pages that became backed by a dedup frame
  uint64_t volatile_pages = 0;     // visits that found the page written or changed since
  uint64_t verify_mismatches = 0;  // equal fingerprints, unequal bytes: not merged
  uint64_t frames_moved = 0;       // content frames moved to the pool of most of their users
  // Host work, going on across restore() like scan_seconds: of the private pages a visit
  // found unwritten, those hashed (written some time before, or never hashed) and those
  // whose kept fingerprint stood in (not written since it was taken). Pages found written
  // are volatile and not hashed.
  uint64_t pages_hashed = 0;
  uint64_t pages_clean = 0;
  double scan_seconds = 0;         // host CPU time in step() (thread clock): statistics only
  // A census of the P2Ms when stats() is called.
  uint64_t shared_frames = 0;       // dedup content frames some guest page maps
  uint64_t sharing_pages = 0;       // guest pages mapping them
  uint64_t zero_pages = 0;          // guest pages mapping the shared zero frame
  uint64_t cross_group_frames = 0;  // content frames mapped from more than one group
  uint64_t cow_breaks = 0;          // the members' GuestMemory::cow_breaks(), summed
  uint64_t bytes_saved = 0;         // host memory the same guest pages would need more
  std::vector<uint64_t> member_shared_pages;  // per member, in add() order: sharing + zero

  // Adds the counters of work done (everything above the census) of another scanner, as
  // HostServices does for the scanners a run replaced. A new work counter is added here too.
  void add_work(const DedupStats& from) {
    for (auto field : {&DedupStats::pages_scanned, &DedupStats::full_passes, &DedupStats::merges,
                       &DedupStats::volatile_pages, &DedupStats::verify_mismatches, &DedupStats::frames_moved,
                       &DedupStats::pages_hashed, &DedupStats::pages_clean}) {
      this->*field += from.*field;
    }
    scan_seconds += from.scan_seconds;
  }
};

class DedupScanner {
 public:
  // A private page seen this pass, waiting for a twin (KSM's unstable tree).
  struct Candidate {
    size_t member;
    Gpa gpa;
    Hpa hpa;
  };
  using Candidates = std::unordered_map<uint64_t, Candidate>;

  // The scanner's part of a checkpoint (core/persist.h): its place in the pass, the pass's
  // candidates, every member's fingerprints, the frames it owns (held by the state too) and
  // its counters and which pages were written since their last visit (the EPT D bits,
  // harvested by save()), so that after a restore the scan visits and merges exactly what it
  // did after the save. restore() expects the members' memory as it was at the save (a
  // rollback puts it back first): the D bits set since describe an undone history and are
  // dropped. Host work (scan_seconds, pages_hashed, pages_clean) goes on, and the kept
  // fingerprints are host-only: after a restore every page is hashed anew.
  struct State {
    size_t cursor_member = 0;
    Gpa cursor_gpa;
    std::vector<Candidates> candidates;
    std::vector<std::vector<uint32_t>> checksums;  // per member
    std::vector<std::vector<uint64_t>> written;    // per member, bit per RAM page
    DedupFramesState frames;
    DedupStats counters;
  };

  explicit DedupScanner(FrameStore& frames, DedupConfig config = {});
  DedupScanner(const DedupScanner&) = delete;
  DedupScanner& operator=(const DedupScanner&) = delete;

  // Registers a guest memory (it must outlive the scanner's use of it); members are
  // scanned in the order added. Returns the member index.
  size_t add(GuestMemory& memory, uint32_t group);

  // Visits up to `budget` mapped pages, stopping early at the end of a pass so that guests
  // run between two passes (otherwise no page could ever look volatile). Then gives the
  // freed frames back to the host.
  void step(uint64_t budget);

  [[nodiscard]] DedupStats stats() const;

  // Between epochs. restore throws StateError for another set of members. save() moves the
  // D bits into the scanner's own record of written pages (the guests' writable
  // translations go, as at any harvest): nothing it decides changes.
  [[nodiscard]] State save() const;
  void restore(const State& s);
  // Cheap reads of two counters (stats() walks every mapping).
  [[nodiscard]] uint64_t full_passes() const { return counters_.full_passes; }
  [[nodiscard]] uint64_t merges() const { return counters_.merges; }

 private:
  struct Member {
    GuestMemory* memory;
    uint32_t group;
    std::unique_ptr<PageChecksums> checksums;
    std::unique_ptr<PageHashes> hashes;  // host-only: not in State
  };
  struct Page {
    Gpa gpa;
    Hpa hpa;
    EptPerms perms;
  };

  [[nodiscard]] bool collect(const Member& m, uint64_t want);
  void forget_written(const Member& m) const;
  static void harvest_all(const Member& m, const std::function<void(Gpa)>& on_written);
  [[nodiscard]] uint64_t fingerprint(const Member& m, const Page& page, const uint8_t* bytes);
  void visit(size_t member, const Page& page);
  void merge_with_candidate(size_t member, const Page& page, const uint8_t* bytes,
                            uint64_t hash, uint32_t table);
  void map_shared(size_t member, Gpa gpa, Hpa frame);
  [[nodiscard]] bool still_private(const Candidate& c) const;
  [[nodiscard]] uint32_t table_of(size_t member) const;
  void finish_pass();
  void place_by_users();
  void move_frame(Hpa from, uint32_t pool, const std::vector<std::pair<size_t, Gpa>>& users);

  FrameStore& frames_;
  DedupConfig config_;
  uint64_t zero_hash_;
  DedupFrames owned_;
  std::vector<Member> members_;
  std::vector<Candidates> candidates_;  // per sharing table; emptied every pass
  size_t cursor_member_ = 0;
  Gpa cursor_gpa_;
  std::vector<Page> batch_;
  DedupStats counters_;
};

}  // namespace densevm
