#include "dedup/dedup_scanner.h"

#include <algorithm>
#include <ctime>
#include <cstring>

namespace densevm {
namespace {

constexpr uint64_t kWindowBytes = ScanWindows::kWindowBytes;

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
  members_.push_back({&memory, group, std::make_unique<PageChecksums>(memory),
                      std::make_unique<PageHashes>(memory), std::make_unique<ScanWindows>(memory),
                      memory.keeper_changes()});
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
  for (Member& m : members_) {  // a new keeper may make pages private that were not
    if (m.memory->keeper_changes() == m.keeper_changes) continue;
    m.keeper_changes = m.memory->keeper_changes();
    m.windows->walk_all();
  }
  uint64_t scanned = 0;
  while (scanned < budget) {
    if (cursor_member_ == members_.size()) {
      finish_pass();
      break;
    }
    Gpa at;
    Gpa window_end;
    if (!next_window(members_[cursor_member_], &at, &window_end)) {
      ++cursor_member_;
      cursor_gpa_ = Gpa{0};
      resume_walk_ = false;
      continue;
    }
    scanned += scan_window(members_[cursor_member_], at, window_end,
                           std::min(budget - scanned, ScanWindows::kPagesPerWindow));
  }
  counters_.pages_scanned += scanned;
  frames_.flush_released();
  counters_.scan_seconds += thread_cpu_seconds() - start;
}

// The part of the window at or after the cursor: [at, window_end), within one RAM range.
bool DedupScanner::next_window(const Member& m, Gpa* at, Gpa* window_end) const {
  for (const GuestMemory::Range& r : m.memory->ram_ranges()) {
    const Gpa end = r.begin + r.size;
    if (cursor_gpa_ >= end) continue;
    *at = std::max(cursor_gpa_, r.begin);
    *window_end = std::min(end, Gpa{(at->value() / kWindowBytes + 1) * kWindowBytes});
    return true;
  }
  return false;
}

// Visits up to `want` mapped pages of [at, window_end), reading the leaves only if something
// may have changed there, and moves the cursor past them (to window_end if fewer are
// mapped). Returns how many pages were visited.
uint64_t DedupScanner::scan_window(Member& m, Gpa at, Gpa window_end, uint64_t want) {
  ScanWindows::Window& w = m.windows->at(at);
  bool walk = true;
  if (!config_.skip_unchanged || resume_walk_) {
    walk = true;
  } else if (at.value() % kWindowBytes == 0) {
    walk = m.memory->take_window_changed(at) || w.walk;  // whole window: its flag starts over
  } else {
    walk = m.memory->window_changed(at) || w.walk;  // the rest of a window skipped in part
  }
  if (!walk) {
    ++counters_.windows_skipped;
    return skip_window(w, at, window_end, want);
  }
  ++counters_.windows_walked;
  return walk_window(m, w, at, window_end, want);
}

// Nothing in the window changed since it was walked and that walk left nothing to do: each
// page's visit would find what it found then. The pages counted are those it found mapped.
uint64_t DedupScanner::skip_window(const ScanWindows::Window& w, Gpa at, Gpa window_end,
                                   uint64_t want) {
  const unsigned from = ScanWindows::page_in_window(at);
  const auto to = static_cast<unsigned>(from + (window_end - at) / kPageSize);
  unsigned last = 0;
  const uint64_t n = ScanWindows::count_mapped(w, from, to, want, &last);
  cursor_gpa_ = n == want ? Gpa{at.value() - at.value() % kWindowBytes} + (uint64_t{last} + 1) * kPageSize : window_end;
  resume_walk_ = false;
  return n;
}

uint64_t DedupScanner::walk_window(Member& m, ScanWindows::Window& w, Gpa at, Gpa window_end,
                                   uint64_t want) {
  if (at.value() % kWindowBytes == 0) {
    w.walk = false;  // the visits below say whether the next pass must walk it again
  } else if (!resume_walk_) {
    w.walk = true;  // the start of it was skipped this pass, not looked at again
  }
  unpark(cursor_member_, w, at, window_end);
  batch_.clear();
  m.memory->for_each_mapping(at, window_end, [&](Gpa gpa, Hpa hpa, EptPerms perms) {
    if (batch_.size() < want) batch_.push_back({gpa, hpa, perms});
  });
  cursor_gpa_ = batch_.size() == want ? batch_.back().gpa + kPageSize : window_end;
  resume_walk_ = cursor_gpa_ < window_end;
  const unsigned from = ScanWindows::page_in_window(at);
  ScanWindows::clear_mapped(w, from, static_cast<unsigned>(from + (cursor_gpa_ - at) / kPageSize));
  forget_written(m);
  for (const Page& p : batch_) {
    ScanWindows::set_mapped(w, ScanWindows::page_in_window(p.gpa));
    if (visit(cursor_member_, p)) w.walk = true;
  }
  return batch_.size();
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

// Returns whether the page's window must be walked at the next pass even if nothing in it
// changes: the next visit may go otherwise (a page found written or unstable is hashed or
// stable then; a frame held by others may become private unseen), or the page's place
// among the candidates is not in the index (parked).
bool DedupScanner::visit(size_t member, const Page& page) {
  const Member& m = members_[member];
  const bool written = m.hashes->take_written(page.gpa);
  // Only a private, writable page can be merged: dedup frames are read-only and never held
  // by one guest alone, and anything else read-only belongs to another mechanism.
  if (!m.memory->private_and_writable(page.gpa, page.hpa, page.perms)) return (page.perms & kEptWrite) != 0;
  // Volatile: written since the last visit, even if to the same bytes (a stack, a counter
  // put back): merged, it would only be copied again at its next write. Not hashed now: its
  // fingerprint is taken at the first visit that finds it unwritten.
  if (written) {
    m.checksums->note_written(page.gpa);
    ++counters_.volatile_pages;
    return true;
  }
  const uint8_t* bytes = frames_.host_ptr(page.hpa);
  const uint64_t hash = fingerprint(m, page, bytes);
  if (!m.checksums->update(page.gpa, hash)) {  // never seen, or changed unseen (a restore)
    ++counters_.volatile_pages;
    return true;
  }
  if (hash == zero_hash_) {
    if (page_is_zero(bytes)) {
      if (const std::optional<Hpa> zero = owned_.zero_frame()) map_shared(member, page.gpa, *zero);
      return true;
    }
  }
  const uint32_t table = table_of(member);
  const uint64_t mismatches = counters_.verify_mismatches;
  if (const std::optional<Hpa> same = owned_.find(table, hash, bytes, &counters_.verify_mismatches)) {
    map_shared(member, page.gpa, *same);
    return true;
  }
  if (!merge_with_candidate(member, page, bytes, hash, table)) return true;
  // A candidate: unless something about it is unusual (a fingerprint collision, the zero
  // page's fingerprint), its next visit does the same until a twin comes, which the index
  // lets find it.
  if (counters_.verify_mismatches != mismatches || hash == zero_hash_) return true;
  return !park({member, page.gpa, page.hpa}, hash, table);
}

// The first page of a content this pass becomes the candidate; a later twin that still
// matches byte for byte turns the candidate's frame into a dedup frame and maps onto it.
// Returns whether the page is the candidate now.
bool DedupScanner::merge_with_candidate(size_t member, const Page& page, const uint8_t* bytes,
                                        uint64_t hash, uint32_t table) {
  if (table >= candidates_.size()) candidates_.resize(table + size_t{1});
  if (table >= parked_.size()) parked_.resize(table + size_t{1});
  Candidates& candidates = candidates_[table];
  // A parked twin behind the cursor was this pass's candidate, as a walk of its window would
  // have made it; one ahead has its window walked when the pass gets there.
  if (const auto p = parked_[table].find(hash); p != parked_[table].end()) {
    const Candidate parked = p->second;
    parked_[table].erase(p);
    if (visited_this_pass(parked, page.gpa)) {
      (void)candidates.try_emplace(hash, parked);
    } else {
      members_[parked.member].windows->at(parked.gpa).walk = true;
    }
  }
  const Candidate self{member, page.gpa, page.hpa};
  const auto [it, inserted] = candidates.try_emplace(hash, self);
  if (inserted) return true;
  const Candidate twin = it->second;
  if (!still_private(twin)) {
    it->second = self;
    return true;
  }
  if (std::memcmp(frames_.host_ptr(twin.hpa), bytes, kPageSize) != 0) {
    ++counters_.verify_mismatches;  // a collision, or the twin changed since: newest wins
    it->second = self;
    members_[twin.member].windows->at(twin.gpa).walk = true;
    return true;
  }
  candidates.erase(it);
  if (!members_[twin.member].memory->share_in_place(twin.gpa)) return false;
  owned_.adopt(table, hash, twin.hpa);
  ++counters_.merges;
  map_shared(member, page.gpa, twin.hpa);
  return false;
}

// Whether the pass went past c's page before the page at `now` of the cursor's member.
bool DedupScanner::visited_this_pass(const Candidate& c, Gpa now) const {
  return c.member < cursor_member_ || (c.member == cursor_member_ && c.gpa < now);
}

// Files the candidate in the index and its window's list; false if another page of the same
// fingerprint holds the place (a collision: its window is not skipped then).
bool DedupScanner::park(const Candidate& c, uint64_t hash, uint32_t table) {
  if (!config_.skip_unchanged) return true;
  const auto [it, inserted] = parked_[table].try_emplace(hash, c);
  if (!inserted) return it->second.member == c.member && it->second.gpa == c.gpa;
  members_[c.member].windows->at(c.gpa).parked.push_back(hash);
  return true;
}

// The window's parked candidates in [begin, end) leave the index: they are visited again.
void DedupScanner::unpark(size_t member, ScanWindows::Window& w, Gpa begin, Gpa end) {
  if (w.parked.empty()) return;
  Candidates& parked = parked_[table_of(member)];
  const Gpa window{begin.value() - begin.value() % kWindowBytes};
  std::erase_if(w.parked, [&](uint64_t hash) {
    const auto it = parked.find(hash);
    if (it == parked.end()) return true;
    const Candidate& c = it->second;
    if (c.member != member || c.gpa < window || c.gpa >= window + kWindowBytes) return true;  // another page's now
    if (c.gpa < begin || c.gpa >= end) return false;
    parked.erase(it);
    return true;
  });
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
    const std::vector<std::pair<size_t, Gpa>>& list = users.find(hpa)->second;
    std::fill(by_pool.begin(), by_pool.end(), 0);
    for (const auto& [member, gpa] : list) ++by_pool[members_[member].memory->frame_pool()];
    const uint32_t here = frames_.pool_of(hpa);
    uint32_t best = here;
    for (uint32_t p = 0; p < by_pool.size(); ++p) {
      if (by_pool[p] > by_pool[best]) best = p;
    }
    if (best != here) move_frame(hpa, best, list);
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
  // Parked candidates the pass went past are its candidates, as they would be had their
  // windows been walked.
  s.candidates.resize(std::max(s.candidates.size(), parked_.size()));
  for (size_t table = 0; table < parked_.size(); ++table) {
    for (const auto& [hash, c] : parked_[table]) {
      if (visited_this_pass(c, cursor_gpa_)) (void)s.candidates[table].try_emplace(hash, c);
    }
  }
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
    m.windows->walk_all();
  }
  parked_.clear();  // the windows' lists go stale: every window is walked first
  resume_walk_ = false;
  owned_.restore(s.frames);
  cursor_member_ = s.cursor_member;
  cursor_gpa_ = s.cursor_gpa;
  candidates_ = s.candidates;
  const DedupStats host_work = counters_;  // host work goes on: not the scan's state
  counters_ = s.counters;
  counters_.scan_seconds = host_work.scan_seconds;
  counters_.pages_hashed = host_work.pages_hashed;
  counters_.pages_clean = host_work.pages_clean;
  counters_.windows_walked = host_work.windows_walked;
  counters_.windows_skipped = host_work.windows_skipped;
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
