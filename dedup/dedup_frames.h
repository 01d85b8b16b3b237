// DedupFrames: the host frames the dedup service owns, i.e. what merged guest pages map.
//
// One shared zero frame for every scope, and one frame per distinct merged content per
// sharing group, found by fingerprint and confirmed byte for byte. The service holds a
// reference of its own on each, so no guest ever holds a dedup frame alone: a guest write
// always copies (GuestMemory::break_cow) and the frame can never turn writable under a
// sharer. Frames only the service still holds are given back by prune().
//
//   DedupFrames owned(frames);
//   std::optional<Hpa> same = owned.find(group, hash, page);   // nullopt: not merged yet
//   if (!same) owned.adopt(group, hash, candidate_frame);
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/frame_refs.h"
#include "core/frame_store.h"
#include "core/types.h"

namespace densevm {

// What the service owns, as a checkpoint keeps it (core/persist.h): the frames by content and
// group, and a reference of each, held by the state itself.
struct DedupFramesState {
  struct Owned {
    uint64_t hash;
    uint32_t group;
  };
  std::optional<Hpa> zero;
  std::vector<std::unordered_multimap<uint64_t, Hpa>> by_hash;  // per group
  std::unordered_map<Hpa, Owned> owned;
  FrameRefs refs;
};

class DedupFrames {
 public:
  explicit DedupFrames(FrameStore& frames) : frames_(frames) {}
  // Drops the service's references; guest mappings keep the frames alive.
  ~DedupFrames();
  DedupFrames(const DedupFrames&) = delete;
  DedupFrames& operator=(const DedupFrames&) = delete;

  // The shared zero frame, allocated on first use; nullopt if the FrameStore is full.
  [[nodiscard]] std::optional<Hpa> zero_frame();
  [[nodiscard]] bool is_zero_frame(Hpa hpa) const { return zero_ && *zero_ == hpa; }

  // A frame of `group` whose bytes equal `page`; fingerprints that match but bytes that
  // differ are counted in *collisions.
  [[nodiscard]] std::optional<Hpa> find(uint32_t group, uint64_t hash, const uint8_t* page,
                                        uint64_t* collisions) const;
  // Takes a reference on hpa and files it under (group, hash); its content must not change
  // from now on, so every mapping of it must be read-only.
  void adopt(uint32_t group, uint64_t hash, Hpa hpa);

  // The group a content frame was filed under, or nullopt if not ours (zero frame too).
  [[nodiscard]] std::optional<uint32_t> group_of(Hpa hpa) const;
  // The fingerprint it was filed under, or nullopt if not ours.
  [[nodiscard]] std::optional<uint64_t> hash_of(Hpa hpa) const;
  [[nodiscard]] uint64_t content_frames() const { return owned_.size(); }
  // Gives back every content frame no guest maps any more; returns how many.
  uint64_t prune();

  [[nodiscard]] DedupFramesState save() const;
  // Gives up the frames it owns now and owns the state's (a reference of its own of each).
  void restore(const DedupFramesState& s);

 private:
  using Owned = DedupFramesState::Owned;
  [[nodiscard]] std::vector<Hpa> held() const;
  void release_all();

  FrameStore& frames_;
  std::optional<Hpa> zero_;
  std::vector<std::unordered_multimap<uint64_t, Hpa>> by_hash_;  // per group
  std::unordered_map<Hpa, Owned> owned_;
};

}  // namespace densevm
