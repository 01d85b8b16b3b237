// P2m: one VM's guest-physical to host map, stored as real 4-level EPT tables.
//
// Every table is a FrameStore frame of EptEntry, so the root is a valid EPTP target. Lookups
// walk the tables as a processor does (rights ANDed across levels, A/D set), and report a
// refusal as an EptViolation value for the VMM to handle. Each mapped page owns one reference
// of its frame. Every change to an existing entry is announced to the listeners: the
// software INVEPT for shadow tables, soft TLBs and decoded code. One keeper (an in-memory
// checkpoint) may in addition see each leaf before it changes, to keep its frame.
//
//   P2m p2m(frames);
//   if (p2m.map(Gpa{0x1000}, *frames.allocate(), kEptRwx) != P2mStatus::kOk) return;
//   EptLookup r = p2m.lookup(Gpa{0x1234}, Access::kWrite);   // an EptHit or an EptViolation
//
// Not thread-safe: a P2m belongs to its VM and is used by the thread running the VM (services
// change it between slices, per DESIGN.md). Listeners and the keeper must not change the P2m
// from a callback.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <variant>
#include <vector>

#include "core/access.h"
#include "core/frame_store.h"
#include "core/page_table_walker.h"
#include "core/types.h"
#include "ept/ept_entry.h"

namespace densevm {

struct EptHit {
  Hpa hpa;         // frame of the 4 KiB page
  EptPerms perms;  // effective rights: AND over all four levels
};

// The EPT refused an access (SDM Vol 3C §29.3.3.2). mapped: a page is behind this Gpa but
// some level's rights exclude the access (copy-on-write, write-tracking, a restricted
// subtree); otherwise nothing is mapped (demand paging, MMIO).
struct EptViolation {
  Gpa gpa;
  Access access;
  EptPerms effective_perms;
  bool mapped;
};

using EptLookup = std::variant<EptHit, EptViolation>;

enum class P2mStatus : uint8_t {
  kOk,
  kOutOfFrames,      // no frame for an intermediate table; nothing changed for the caller
  kInvalidArgument,  // unaligned or out-of-range address, foreign Hpa, W without R, bad level
  kNotMapped,        // no table behind the upper-level entry
};

// One leaf as stored, for services and tests.
struct P2mLeaf {
  Hpa hpa;
  EptPerms perms;            // the leaf's own rights
  EptPerms effective_perms;  // AND with the upper levels
  EptMemType memtype;
  bool accessed;
  bool dirty;
};

// What changed in a range: only rights or A/D bits (the bytes behind each page are the
// same), or the frame itself (unmap, remap: the page's contents may now be other bytes).
enum class P2mChange : uint8_t { kRights, kFrame };

// Told about every change to an existing entry: unmap, remap, any change of rights (leaf or
// subtree, up or down) and clearing of A/D bits, so that cached translations are dropped and
// the next access walks again (setting A/D anew); on kFrame, whatever was derived from the
// page's bytes (decoded instructions) goes too. Filling a not-present leaf, creating
// intermediate tables and push_down() are not announced: nothing cached can be wrong then.
class P2mListener {
 public:
  virtual ~P2mListener() = default;
  virtual void on_p2m_change(Gpa begin, Gpa end, P2mChange change) = 0;  // page-aligned
};

// Sees a leaf just before anything can lose the bytes it maps: map() filling or replacing
// it, unmap() emptying it, or a caller about to make a read-only leaf writable in place
// (before_leaf_write). An in-memory checkpoint keeps the old frame then (by retaining it, so
// that a frame about to be written in place counts as shared and gets copied instead).
// protect() and unrestrict_subtree() do not ask it: whoever grants write rights to pages with
// contents calls before_leaf_write first, as GuestMemory::break_cow does.
class P2mKeeper {
 public:
  virtual ~P2mKeeper() = default;
  // old: the leaf as stored now; it holds no frame when map() is about to fill it.
  virtual void before_leaf_change(Gpa page, EptEntry old) = 0;
  // The leaf of `page` as the keeper holds it (as it was at a checkpoint), if it holds its
  // frame: a page mapping that frame is as it was then, its frame held by the keeper too and,
  // if the keeper put it back read-only, its rights those of the leaf returned.
  [[nodiscard]] virtual std::optional<EptEntry> kept(Gpa /*page*/) const { return std::nullopt; }
  // A frame it holds and no longer needs (any contents), handed over with its reference, or
  // nullopt. Whoever needs a frame for a page's new contents (GuestMemory) asks here before
  // the FrameStore: frames a checkpoint's rollback took out of the P2M are reused by the
  // next round's copies instead of being given back and faulted in again.
  [[nodiscard]] virtual std::optional<Hpa> take_spare_frame() { return std::nullopt; }
};

struct P2mStats {
  uint64_t mapped_pages = 0;
  uint64_t table_frames = 0;     // root included
  uint64_t lookups = 0;
  uint64_t walk_references = 0;  // one per table entry read by lookup()
  uint64_t violations = 0;
  uint64_t notifications = 0;    // on_p2m_change rounds (each reaches every listener)
  uint64_t entry_writes = 0;     // entries (leaf or upper) written by map, unmap, protect,
                                 // subtree rights, push_down and A/D clearing; not A/D set
                                 // by lookup(), not new tables
  uint64_t push_downs = 0;       // upper entries whose restriction push_down() moved down
};

class P2m {
 public:
  using Walker = PageTableWalker<EptEntry>;
  using MappingVisitor = std::function<void(Gpa gpa, Hpa hpa, EptPerms leaf_perms)>;
  static constexpr uint64_t kGpaLimit = Walker::kAddressLimit;  // 2^48: 4-level EPT

  // Allocates the root table; throws std::runtime_error if the FrameStore is exhausted.
  // Its tables come from `pool` of the store (the VM's home NUMA node's).
  explicit P2m(FrameStore& frames, uint32_t pool = 0);
  // Releases every mapped frame and every table frame; listeners are not told.
  ~P2m();
  P2m(const P2m&) = delete;
  P2m& operator=(const P2m&) = delete;

  // The hardware walk for one access (SDM Vol 3C §29.3.2, §29.3.4).
  [[nodiscard]] EptLookup lookup(Gpa gpa, Access access);
  // The leaf for gpa as stored; no A/D side effects, not counted.
  [[nodiscard]] std::optional<P2mLeaf> inspect(Gpa gpa) const;

  // Maps the 4 KiB page at gpa to hpa, taking over one reference of hpa from the caller
  // (on kOk only). Replacing a mapped page releases the old frame and notifies.
  [[nodiscard]] P2mStatus map(Gpa gpa, Hpa hpa, EptPerms perms,
                              EptMemType type = EptMemType::kWriteBack);
  // Builds the tables on the path to gpa's leaf, mapping nothing, so that a later map() of
  // it writes only the leaf: a VM made before a checkpoint's pause has the path its pause
  // maps (each new table a first-touch fault of fresh host memory otherwise). kOutOfFrames
  // when the FrameStore is exhausted.
  [[nodiscard]] P2mStatus prepare(Gpa gpa);
  // Removes the page at gpa and releases its reference; returns the old frame (for
  // accounting only: it may already be reused) or nullopt if nothing was mapped.
  std::optional<Hpa> unmap(Gpa gpa);
  // Sets the leaf rights of every mapped page in [begin, end); unmapped pages are skipped.
  [[nodiscard]] P2mStatus protect(Gpa begin, Gpa end, EptPerms perms);
  // Sets the rights of the single upper entry at level 4 (512 GiB), 3 (1 GiB) or 2 (2 MiB)
  // covering gpa, so its whole subtree is limited by one write; unrestrict restores RWX.
  [[nodiscard]] P2mStatus restrict_subtree(Gpa gpa, unsigned level, EptPerms perms);
  [[nodiscard]] P2mStatus unrestrict_subtree(Gpa gpa, unsigned level);
  // Moves every restriction on the path to gpa's leaf down to the leaf, one level at a time:
  // a restricted upper entry gets RWX back and each of its 512 children takes on its rights
  // (ANDed). Every page keeps its effective rights, so nobody is told; the cost is bounded
  // (at most 3 x 512 entries) and only gpa's path loses its upper-level restriction.
  // Returns how many levels were pushed.
  unsigned push_down(Gpa gpa);
  // Someone is about to let the read-only leaf at page be written in place: the keeper sees
  // it first (and may keep its frame, making it shared).
  void before_leaf_write(Gpa page);

  // Calls on_dirty for each page in [begin, end) whose D bit is set and clears D (A stays:
  // it is idle-memory sampling's). Announced as a change of rights, so that translations
  // cached as writable go and the next write walks again, setting D anew.
  void harvest_dirty(Gpa begin, Gpa end, const std::function<void(Gpa)>& on_dirty);
  // Sets the leaf's D bit, as a write through the EPT would: the VMM wrote the page or gave
  // it a frame with other bytes (not announced: a cached translation only lacks the bit).
  void mark_dirty(Gpa gpa);
  // Whether the leaf at gpa was accessed since the last call; clears A.
  [[nodiscard]] bool test_and_clear_accessed(Gpa gpa);
  // Sets the leaf's A bit, as an access would (not announced: nothing cached can be wrong).
  void mark_accessed(Gpa gpa);

  // Every mapped page, in ascending Gpa order (or those in [begin, end)).
  void for_each_mapping(const MappingVisitor& visit) const;
  void for_each_mapping(Gpa begin, Gpa end, const MappingVisitor& visit) const;

  void add_listener(P2mListener* listener);
  void remove_listener(P2mListener* listener);
  // At most one keeper; nullptr removes it.
  void set_keeper(P2mKeeper* keeper) { keeper_ = keeper; }
  [[nodiscard]] P2mKeeper* keeper() const { return keeper_; }

  [[nodiscard]] Hpa root() const { return root_; }
  [[nodiscard]] FrameStore& frames() const { return *frames_; }
  [[nodiscard]] const P2mStats& stats() const { return stats_; }

 private:
  class ChangeRuns;

  [[nodiscard]] EptViolation violation(Gpa gpa, Access access);
  // AND of the rights on the path to gpa's leaf; leaf is nullptr if the path is incomplete.
  [[nodiscard]] EptPerms path_perms(Gpa gpa, EptEntry** leaf) const;
  [[nodiscard]] P2mStatus set_subtree_perms(Gpa gpa, unsigned level, EptPerms perms);
  void notify(Gpa begin, Gpa end, P2mChange change);

  FrameStore* frames_;
  Walker walker_;
  Hpa root_;
  std::vector<P2mListener*> listeners_;
  P2mKeeper* keeper_ = nullptr;
  P2mStats stats_;
};

}  // namespace densevm
