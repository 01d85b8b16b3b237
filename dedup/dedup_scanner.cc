#include "dedup/dedup_scanner.h"

#include <algorithm>
#include <ctime>
#include <cstring>

namespace densevm {
namespace {

// Pages are collected from the P2M one 2 MiB window (one EPT leaf table) at a time.
constexpr uint64_t kWindowBytes = uint64_t{2} << 20;

// CPU time of the calling thread: what the scan costs the host, which wall time on a loaded
// host (other threads, other processes, a stolen vCPU) overstates many times over.
double thread_cpu_seconds() {
  timespec ts{};
  (void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

DedupScanner::DedupScanner(FrameStore& frames, DedupConfig config)
    : frames_(frames), config_(config), zero_hash_(config.hash(zero_page())), owned_(frames) {}

size_t DedupScanner::add(GuestMemory& memory, uint32_t group) {
  members_.push_back({&memory, group, std::make_unique<PageChecksums>(memory), std::make_unique<PageHashes>(memory)});
  return members_.size() - 1;
}

uint32_t DedupScanner::table_of(size_t member) const {
  switch (config_.scope) {
    case DedupScope::kHost: return 0;
    case DedupScope::kGroup: return members_[member].group;
    case DedupScope::kVm: return static_cast<uint32_t>(member);
  }
  return 0;
}

void DedupScanner::step(uint64_t budget) {
  const double start = thread_cpu_seconds();
  uint64_t scanned = 0;
  while (scanned < budget) {
    if (cursor_member_ == members_.size()) {
      finish_pass();
      break;
    }
    batch_.clear();
    if (!collect(members_[cursor_member_], std::min(budget - scanned, kWindowBytes >> kPageShift))) {
      ++cursor_member_;
      cursor_gpa_ = Gpa{0};
      continue;
    }
    forget_written(members_[cursor_member_]);
    for (const Page& p : batch_) visit(cursor_member_, p);
    scanned += batch_.size();
  }
  counters_.pages_scanned += scanned;
  frames_.flush_released();
  counters_.scan_seconds += thread_cpu_seconds() - start;
}

// Fills batch_ with up to `want` mappings at or after the cursor and moves the cursor past
// them; false when the member has none left.
bool DedupScanner::collect(const Member& m, uint64_t want) {
  for (const GuestMemory::Range& r : m.memory->ram_ranges()) {
    const Gpa end = r.begin + r.size;
    Gpa at = std::max(cursor_gpa_, r.begin);
    while (at < end) {
      const Gpa window_end = std::min(end, Gpa{(at.value() / kWindowBytes + 1) * kWindowBytes});
      m.memory->for_each_mapping(at, window_end, [&](Gpa gpa, Hpa hpa, EptPerms perms) {
        if (batch_.size() < want) batch_.push_back({gpa, hpa, perms});
      });
      cursor_gpa_ = batch_.size() == want ? batch_.back().gpa + kPageSize : window_end;
      if (!batch_.empty()) return true;
      at = window_end;
    }
  }
  return false;
}

// The batch's pages written since their last visit lose their kept fingerprint. Harvesting
// the D bits drops the guests' writable translations of them, so the next write walks the
// EPT and sets D again: a page written after this is hashed at its next visit.
void DedupScanner::forget_written(const Member& m) const {
  if (batch_.empty()) return;
  m.memory->harvest_written(batch_.front().gpa, batch_.back().gpa + kPageSize,
                            [&](Gpa gpa) { m.hashes->written(gpa); });
}

uint64_t DedupScanner::fingerprint(const Member& m, const Page& page, const uint8_t* bytes) {
  if (const std::optional<uint64_t> kept = m.hashes->known(page.gpa)) {
    ++counters_.pages_clean;
    return *kept;
  }
  const uint64_t hash = config_.hash(bytes);
  m.hashes->remember(page.gpa, hash);
  ++counters_.pages_hashed;
  return hash;
}

void DedupScanner::visit(size_t member, const Page& page) {
  const Member& m = members_[member];
  const bool written = m.hashes->take_written(page.gpa);
  // Only a private, writable page can be merged: dedup frames are read-only and never held
  // by one guest alone, and anything else read-only belongs to another mechanism.
  if (!m.memory->private_and_writable(page.gpa, page.hpa, page.perms)) return;
  // Volatile: written since the last visit, even if to the same bytes (a stack, a counter
  // put back): merged, it would only be copied again at its next write. Not hashed now: its
  // fingerprint is taken at the first visit that finds it unwritten.
  if (written) {
    m.checksums->note_written(page.gpa);
    ++counters_.volatile_pages;
    return;
  }
  const uint8_t* bytes = frames_.host_ptr(page.hpa);
  const uint64_t hash = fingerprint(m, page, bytes);
  if (!m.checksums->update(page.gpa, hash)) {  // never seen, or changed unseen (a restore)
    ++counters_.volatile_pages;
    return;
  }
  if (hash == zero_hash_ && page_is_zero(bytes)) {
    if (const std::optional<Hpa> zero = owned_.zero_frame()) map_shared(member, page.gpa, *zero);
    return;
  }
  const uint32_t table = table_of(member);
  if (const std::optional<Hpa> same = owned_.find(table, hash, bytes, &counters_.verify_mismatches)) {
    map_shared(member, page.gpa, *same);
    return;
  }
  merge_with_candidate(member, page, bytes, hash, table);
}

// The first page of a content this pass becomes the candidate; a later twin that still
// matches byte for byte turns the candidate's frame into a dedup frame and maps onto it.
void DedupScanner::merge_with_candidate(size_t member, const Page& page, const uint8_t* bytes,
                                        uint64_t hash, uint32_t table) {
  if (table >= candidates_.size()) candidates_.resize(table + size_t{1});
  Candidates& candidates = candidates_[table];
  const Candidate self{member, page.gpa, page.hpa};
  const auto [it, inserted] = candidates.try_emplace(hash, self);
  if (inserted) return;
  const Candidate twin = it->second;
  if (!still_private(twin)) {
    it->second = self;
    return;
  }
  if (std::memcmp(frames_.host_ptr(twin.hpa), bytes, kPageSize) != 0) {
    ++counters_.verify_mismatches;  // a collision, or the twin changed since: newest wins
    it->second = self;
    return;
  }
  candidates.erase(it);
  if (!members_[twin.member].memory->share_in_place(twin.gpa)) return;
  owned_.adopt(table, hash, twin.hpa);
  ++counters_.merges;
  map_shared(member, page.gpa, twin.hpa);
}

// The twin was fingerprinted earlier in the pass; since then its guest may have written it
// (copy-on-write gave it another frame) or it may have been merged itself.
bool DedupScanner::still_private(const Candidate& c) const {
  const GuestMemory& memory = *members_[c.member].memory;
  const std::optional<P2mLeaf> leaf = memory.mapping(c.gpa);
  return leaf && leaf->hpa == c.hpa && memory.private_and_writable(c.gpa, c.hpa, leaf->perms);
}

// map() takes over the new reference and releases the duplicate frame.
void DedupScanner::map_shared(size_t member, Gpa gpa, Hpa frame) {
  frames_.retain(frame);
  if (!members_[member].memory->share(gpa, frame)) {
    frames_.release(frame);
    return;
  }
  ++counters_.merges;
}

void DedupScanner::finish_pass() {
  ++counters_.full_passes;
  for (Candidates& c : candidates_) c.clear();
  place_by_users();
  (void)owned_.prune();
  cursor_member_ = 0;
  cursor_gpa_ = Gpa{0};
}

// Once a pass: each content frame's users counted by pool; one with more users in another
// pool than in its own moves there. A census of every P2M, as stats() takes.
void DedupScanner::place_by_users() {
  if (frames_.pools() < 2) return;
  std::unordered_map<Hpa, std::vector<std::pair<size_t, Gpa>>> users;
  for (size_t i = 0; i < members_.size(); ++i) {
    members_[i].memory->for_each_mapping([&](Gpa gpa, Hpa hpa, EptPerms) {
      if (owned_.group_of(hpa)) users[hpa].emplace_back(i, gpa);
    });
  }
  std::vector<Hpa> order;  // by address: the same moves in the same order every run
  for (const auto& [hpa, list] : users) order.push_back(hpa);
  std::sort(order.begin(), order.end());
  std::vector<uint64_t> by_pool(frames_.pools());
  for (const Hpa hpa : order) {
    std::fill(by_pool.begin(), by_pool.end(), 0);
    for (const auto& [member, gpa] : users[hpa]) ++by_pool[members_[member].memory->frame_pool()];
    const uint32_t here = frames_.pool_of(hpa);
    uint32_t best = here;
    for (uint32_t p = 0; p < by_pool.size(); ++p) {
      if (by_pool[p] > by_pool[best]) best = p;
    }
    if (best != here) move_frame(hpa, best, users[hpa]);
  }
}

// The copy is filed beside the frame (same group and content) and every user remapped to it;
// the old frame, then held by the service alone, goes at the next prune(). A pool full (the
// store's fall-back would hand out a frame elsewhere) leaves the frame where it is.
void DedupScanner::move_frame(Hpa from, uint32_t pool, const std::vector<std::pair<size_t, Gpa>>& users) {
  const std::optional<Hpa> to = frames_.allocate(pool);
  if (!to) return;
  if (frames_.pool_of(*to) != pool) {
    frames_.release(*to);
    return;
  }
  std::memcpy(frames_.host_ptr(*to), frames_.host_ptr(from), kPageSize);
  owned_.adopt(*owned_.group_of(from), *owned_.hash_of(from), *to);
  for (const auto& [member, gpa] : users) {
    frames_.retain(*to);
    if (!members_[member].memory->share(gpa, *to)) frames_.release(*to);
  }
  frames_.release(*to);  // allocate()'s reference: the service's and the users' remain
  ++counters_.frames_moved;
}

void DedupScanner::harvest_all(const Member& m, const std::function<void(Gpa)>& on_written) {
  for (const GuestMemory::Range& r : m.memory->ram_ranges()) m.memory->harvest_written(r.begin, r.begin + r.size, on_written);
}

DedupScanner::State DedupScanner::save() const {
  State s{cursor_member_, cursor_gpa_, candidates_, {}, {}, owned_.save(), counters_};
  for (const Member& m : members_) {
    s.checksums.push_back(m.checksums->save());
    harvest_all(m, [&](Gpa gpa) { m.hashes->written(gpa); });
    s.written.push_back(m.hashes->written_bits());
  }
  return s;
}

void DedupScanner::restore(const State& s) {
  if (s.checksums.size() != members_.size() || s.written.size() != members_.size()) {
    throw StateError("dedup state is for another set of guests");
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    m.checksums->restore(s.checksums[i]);
    harvest_all(m, [](Gpa) {});  // written after the save, in a history the rollback undid
    m.hashes->forget_all();      // the pages may hold other bytes now: hash anew
    m.hashes->restore_written(s.written[i]);
  }
  owned_.restore(s.frames);
  cursor_member_ = s.cursor_member;
  cursor_gpa_ = s.cursor_gpa;
  candidates_ = s.candidates;
  const DedupStats host_work = counters_;  // host work goes on: not the scan's state
  counters_ = s.counters;
  counters_.scan_seconds = host_work.scan_seconds;
  counters_.pages_hashed = host_work.pages_hashed;
  counters_.pages_clean = host_work.pages_clean;
}

DedupStats DedupScanner::stats() const {
  DedupStats s = counters_;
  s.member_shared_pages.assign(members_.size(), 0);
  struct Users {
    uint32_t group;
    bool mixed;
  };
  std::unordered_map<Hpa, Users> users;
  for (size_t i = 0; i < members_.size(); ++i) {
    const Member& m = members_[i];
    s.cow_breaks += m.memory->cow_breaks();
    m.memory->for_each_mapping([&](Gpa, Hpa hpa, EptPerms) {
      if (owned_.is_zero_frame(hpa)) {
        ++s.zero_pages;
        ++s.member_shared_pages[i];
        return;
      }
      if (!owned_.group_of(hpa)) return;
      ++s.sharing_pages;
      ++s.member_shared_pages[i];
      const auto [it, first] = users.try_emplace(hpa, Users{m.group, false});
      if (!first && it->second.group != m.group) it->second.mixed = true;
    });
  }
  s.shared_frames = users.size();
  for (const auto& [hpa, u] : users) s.cross_group_frames += u.mixed;
  const uint64_t frames_used = s.shared_frames + (s.zero_pages > 0 ? 1 : 0);
  s.bytes_saved = (s.sharing_pages + s.zero_pages - frames_used) * kPageSize;
  return s;
}

}  // namespace densevm
