// GuestMemory: one VM's RAM, and the one interface through which everything else reaches it.
//
// RAM is demand-paged: a guest-physical page gets a zeroed FrameStore frame on first touch
// and is mapped RWX in the VM's EPT-format P2M. RAM sits below the 3 GiB MMIO window (local
// APIC, virtio-mmio) and continues at 4 GiB, as on a PC. The P2M is this class's own: the
// loader and devices (host-side reads and writes), the MMU's walks (lookup), and the services
// — balloon (discard, accessed bits), dedup (sharing frames), checkpoints and snapshots (a
// keeper, mappings, putting pages back) — use the named operations below, never the P2M.
//
// A page's EPT D bit says its bytes may have changed since the bit was last harvested: a
// guest write through the EPT sets it (the MMU's walk, as hardware does), and so does every
// operation below that writes a page or gives it a frame with other bytes (a first touch, a
// source's copy, a copy-on-write break, put_back, writable_page and so write). Only share()
// maps without it: the frame it maps holds the same bytes.
//
//   GuestMemory mem(frames, 512ull << 20);
//   mem.write(Gpa{0x100000}, image.data(), image.size());
//   mem.for_each_mapping([](Gpa gpa, Hpa frame, EptPerms) { ... });
//   uint64_t pages = mem.resident_pages();
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/frame_store.h"
#include "core/page_source.h"
#include "core/types.h"
#include "core/zeroed_array.h"
#include "ept/p2m.h"

namespace densevm {

class GuestMemory {
 public:
  static constexpr uint64_t kLowRamLimit = uint64_t{3} << 30;  // MMIO window starts here
  static constexpr uint64_t kHighRamBase = uint64_t{4} << 30;

  struct Range {
    Gpa begin;
    uint64_t size;
  };

  // Its frames, and its P2M's tables, come from `pool` of the store: its home NUMA node's.
  // With huge_frames, its pages' frames come from 2 MiB chunks of that pool it fills in
  // order (FrameStore::HugeCursor), so the host backs them with transparent huge pages.
  GuestMemory(FrameStore& frames, uint64_t ram_bytes, uint32_t pool = 0, bool huge_frames = false);
  ~GuestMemory() { frames_.close(cursor_); }
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // The layout as page indices (0 .. ram_bytes / 4 KiB, counted across the ranges), for
  // tables kept per RAM page: ram_page_index gives ram_bytes / 4 KiB for a non-RAM page.
  [[nodiscard]] static uint64_t ram_page_index(uint64_t ram_bytes, Gpa page);
  [[nodiscard]] static Gpa ram_page_gpa(uint64_t ram_bytes, uint64_t index);

  [[nodiscard]] const std::vector<Range>& ram_ranges() const { return ranges_; }
  [[nodiscard]] uint64_t ram_bytes() const { return ram_bytes_; }
  [[nodiscard]] bool is_ram(Gpa gpa) const;

  enum class Populate : uint8_t { kMapped, kNotRam, kOutOfMemory, kSourceCorrupt };
  // Gives a RAM page a frame if it has none yet: the source's copy if there is one (see
  // set_source), otherwise a zeroed frame. With huge_frames, a zeroed frame for a read
  // (write false) is a 4 KiB one: the host maps its shared zero page there until something
  // writes, where one in a huge chunk would share 2 MiB of real memory with written pages.
  [[nodiscard]] Populate populate(Gpa gpa, bool write = true);

  // Pages without a frame take their first contents from `source` (a snapshot restored
  // lazily or shared by clones) instead of starting zeroed. Set before the VM runs.
  void set_source(std::shared_ptr<PageSource> source);
  [[nodiscard]] bool has_source() const { return source_ != nullptr; }
  // The source set by set_source, or nullptr: a frozen VM serving its memory to others
  // (VmTemplate) passes on the pages it still owes.
  [[nodiscard]] PageSource* source() const { return source_.get(); }
  // Fetches every page the source still owes this VM, then drops the source: afterwards
  // the P2M holds all of guest RAM (what a snapshot save or a checkpoint needs). kMapped on
  // success, else the first failure.
  [[nodiscard]] Populate materialize();
  // Takes the page away (balloon): its frame is released and, with a source, the source's
  // copy is forgotten too, so the next touch gets a zeroed frame. True if a frame was mapped.
  bool discard(Gpa gpa);
  // Whether discard() took this page from the source (only meaningful while one is set).
  [[nodiscard]] bool discarded_from_source(Gpa gpa) const;
  // A guest write hit a mapped page the EPT keeps read-only because its frame is shared
  // (content-hash sharing, clones) or an in-memory checkpoint protects it: copy-on-write.
  // A restriction on an upper level (a checkpoint's) is first pushed down to the leaf, so
  // only this page turns writable. A shared frame, or one the P2M's keeper (the
  // checkpoint) keeps now, is copied to a private one mapped writable; a frame this page
  // alone still holds is simply made writable. kNotRam if nothing is mapped at gpa.
  [[nodiscard]] Populate break_cow(Gpa gpa);
  [[nodiscard]] uint64_t cow_breaks() const { return cow_breaks_; }

  // Host pointer to the page holding gpa, ready for the host to write: populated, and made
  // private if its frame is shared. nullptr if not RAM or out of memory.
  [[nodiscard]] uint8_t* writable_page(Gpa gpa);

  // Host-side copies; false if any byte is outside RAM (nothing is written then).
  [[nodiscard]] bool write(Gpa gpa, const void* data, size_t size);
  [[nodiscard]] bool read(Gpa gpa, void* data, size_t size);

  [[nodiscard]] FrameStore& frames() { return frames_; }
  [[nodiscard]] const FrameStore& frames() const { return frames_; }
  // The FrameStore pool this VM's new frames come from (first touches, copy-on-write breaks,
  // pages put back, P2M and shadow tables): its home NUMA node's.
  [[nodiscard]] uint32_t frame_pool() const { return pool_; }
  [[nodiscard]] bool huge_frames() const { return huge_frames_; }
  [[nodiscard]] uint64_t resident_pages() const { return p2m_.stats().mapped_pages; }

  // What backs a page now (frame, rights, A/D bits), or nullopt if it has no frame. Not
  // counted, no side effects.
  [[nodiscard]] std::optional<P2mLeaf> mapping(Gpa page) const {
    return page.value() < P2m::kGpaLimit ? p2m_.inspect(page) : std::nullopt;
  }
  // Every page with a frame, ascending (or those in [begin, end)).
  void for_each_mapping(const P2m::MappingVisitor& visit) const { p2m_.for_each_mapping(visit); }
  void for_each_mapping(Gpa begin, Gpa end, const P2m::MappingVisitor& visit) const {
    p2m_.for_each_mapping(begin, end, visit);
  }

  // The MMU's reference to guest memory: the hardware's EPT walk for one access (A/D set,
  // counted in ept_stats().walk_references), a frame or a violation to resolve.
  [[nodiscard]] EptLookup lookup(Gpa gpa, Access access) { return p2m_.lookup(gpa, access); }
  [[nodiscard]] const P2mStats& ept_stats() const { return p2m_.stats(); }
  // Told about every change to a page's frame or rights (see P2mListener).
  void add_listener(P2mListener* listener) { p2m_.add_listener(listener); }
  void remove_listener(P2mListener* listener) { p2m_.remove_listener(listener); }

  // Page sharing: the page maps `frame`, which others map too, read-only (R+X) in place of
  // its own frame, whose reference goes; on success this takes over one reference of frame.
  [[nodiscard]] bool share(Gpa page, Hpa frame) { return p2m_.map(page, frame, kEptRx) == P2mStatus::kOk; }
  // Page sharing: the page keeps its frame, read-only (R+X) from now on, so that other pages
  // may map it too; a write copies it (break_cow). A checkpoint's keeper sees the page first:
  // its rollback puts the page's rights back with its frame.
  [[nodiscard]] bool share_in_place(Gpa page) {
    p2m_.before_leaf_write(page);
    return p2m_.protect(page, page + kPageSize, kEptRx) == P2mStatus::kOk;
  }
  // Page sharing: whether `page`, mapping `frame` with the leaf rights `perms` (as
  // for_each_mapping gives them), holds its frame alone and may be written by its guest: what
  // may be merged. A checkpoint keeping the frame for its rollback, and the read-only rights a
  // rollback put the page back with, do not count: such a page is as it was at the checkpoint.
  [[nodiscard]] bool private_and_writable(Gpa page, Hpa frame, EptPerms perms) const;
  // The P2M tables on the path to page, built ahead of a write that must be quick (P2m::prepare).
  [[nodiscard]] bool prepare_tables(Gpa page) { return p2m_.prepare(page) == P2mStatus::kOk; }
  // The page loses its frame, as if never touched (unlike discard, a source still serves
  // it); returns the frame it had, for accounting only.
  std::optional<Hpa> drop(Gpa page) { return p2m_.unmap(page); }
  // Takes every RAM page's frame (a VM that stopped gives its RAM back: it never runs again,
  // nor does anything read its memory); returns how many frames went.
  uint64_t drop_all();

  // Whether the page was accessed since the last call (EPT A bit); clears the bit (the change
  // is announced, so the next access walks again and sets it). Idle memory sampling.
  [[nodiscard]] bool test_and_clear_accessed(Gpa page) { return p2m_.test_and_clear_accessed(page); }
  // Puts the A bit back as it was (a rollback restoring what sampling armed); clearing it is
  // announced as above.
  void set_accessed(Gpa page, bool accessed) {
    if (accessed) {
      p2m_.mark_accessed(page);
    } else {
      (void)p2m_.test_and_clear_accessed(page);
    }
  }

  // Page sharing: calls on_written for every page in [begin, end) whose bytes may have
  // changed since the last call (D set, see above) and clears D; the change is announced, so
  // the next guest write walks again and sets it.
  void harvest_written(Gpa begin, Gpa end, const std::function<void(Gpa)>& on_written) {
    p2m_.harvest_dirty(begin, end, on_written);
  }

  // Checkpoints. write_protect_all makes every RAM page read-only at once, with one EPT entry
  // per 512 GiB whatever the guest's size: a guest write then faults and break_cow pushes the
  // restriction down to the page written. The keeper (P2mKeeper, at most one) sees each page
  // before anything can lose its bytes; put_back maps a frame the keeper kept (taking over
  // one reference) with the rights and memory type it had, false if no table frame was left.
  void write_protect_all();
  void set_keeper(P2mKeeper* keeper) { p2m_.set_keeper(keeper); }
  [[nodiscard]] P2mKeeper* keeper() const { return p2m_.keeper(); }
  [[nodiscard]] bool put_back(Gpa page, Hpa frame, EptPerms perms, EptMemType type) {
    if (p2m_.map(page, frame, perms, type) != P2mStatus::kOk) return false;
    p2m_.mark_dirty(page);
    return true;
  }

  // Tests (and benches) that play the part of a service changing the P2M in ways no operation
  // above offers (rights of their choosing, a remapped table page). Never used by the VMM.
  [[nodiscard]] P2m& p2m_for_testing() { return p2m_; }

 private:
  [[nodiscard]] bool range_is_ram(Gpa gpa, size_t size) const;
  // A frame for a page's new contents: a spare of the P2M's keeper (a checkpoint's) first,
  // else the FrameStore's; zeroed on request (the FrameStore's always are).
  [[nodiscard]] std::optional<Hpa> new_frame(bool zeroed, bool huge = true);
  [[nodiscard]] uint64_t ram_index(Gpa page) const { return ram_page_index(ram_bytes_, page); }
  // Maps the source's copy of `page`; false if the source has none (result untouched).
  [[nodiscard]] bool map_from_source(Gpa page, Populate& result);

  FrameStore& frames_;
  P2m p2m_;
  uint64_t ram_bytes_;
  std::vector<Range> ranges_;
  uint64_t cow_breaks_ = 0;
  uint32_t pool_ = 0;
  bool huge_frames_ = false;
  FrameStore::HugeCursor cursor_;  // used with huge_frames_
  std::shared_ptr<PageSource> source_;
  // Bit per RAM page, while a source is set; untouched until a page is given up (a restore's
  // pause does not fault in 32 KiB a GiB to clear it).
  ZeroedArray<uint64_t> discarded_;
};

}  // namespace densevm
