#include "ept/p2m.h"

#include <stdexcept>

namespace densevm {
namespace {

[[nodiscard]] constexpr EptPerms required_perms(Access access) {
  switch (access) {
    case Access::kRead: return kEptRead;
    case Access::kWrite: return kEptWrite;
    case Access::kExec: return kEptExec;
  }
  return kEptRwx;
}

}  // namespace

// Collects pages whose rights changed into contiguous runs so that a range operation
// notifies once per run instead of once per page.
class P2m::ChangeRuns {
 public:
  explicit ChangeRuns(P2m& p2m) : p2m_(p2m) {}
  ~ChangeRuns() { flush(); }
  ChangeRuns(const ChangeRuns&) = delete;
  ChangeRuns& operator=(const ChangeRuns&) = delete;

  void add(uint64_t page) {
    if (end_ != 0 && page == end_) {
      end_ += kPageSize;
      return;
    }
    flush();
    begin_ = page;
    end_ = page + kPageSize;
  }

 private:
  void flush() {
    if (end_ != 0) p2m_.notify(Gpa{begin_}, Gpa{end_}, P2mChange::kRights);
    end_ = 0;
  }

  P2m& p2m_;
  uint64_t begin_ = 0;
  uint64_t end_ = 0;  // 0: no open run (a run never ends at address 0)
};

P2m::P2m(FrameStore& frames, uint32_t pool) : frames_(&frames), walker_(frames, pool) {
  std::optional<Hpa> root = frames.allocate(pool);
  if (!root) throw std::runtime_error("P2m: FrameStore exhausted, no frame for the EPT root");
  root_ = *root;
  // Its first touch a write (the frame is zero, so is the entry), as the walker's for the
  // tables it makes: one fault, not a zero-page read fault and then a copy-on-write one.
  walker_.table(root_)[0] = EptEntry{};
  stats_.table_frames = 1;
}

P2m::~P2m() {
  walker_.destroy(root_, [this](uint64_t, EptEntry& leaf, unsigned) {
    frames_->release(leaf.frame());
  });
}

// SDM Vol 3C §29.3.2 (EPT translation mechanism): the walk reads one entry per level and
// ANDs their rights; an entry with R=W=X=0 is not present and ends it. With EPT A/D enabled
// (§29.3.4) each entry used gets A, and the leaf of a successful write gets D.
EptLookup P2m::lookup(Gpa gpa, Access access) {
  ++stats_.lookups;
  if (gpa.value() >= kGpaLimit) [[unlikely]] return violation(gpa, access);
  const EptPerms need = required_perms(access);
  EptPerms perms = kEptRwx;
  Hpa table = root_;
  for (unsigned level = EptEntry::kLevels;; --level) {
    EptEntry& e = walker_.table(table)[Walker::index(gpa.value(), level)];
    ++stats_.walk_references;
    if (!e.present()) [[unlikely]] return violation(gpa, access);
    if (!e.accessed()) e.set(EptEntry::kAccessed);
    perms &= e.perms();
    if (level == 1) {
      if ((perms & need) != need) [[unlikely]] return violation(gpa, access);
      if (access == Access::kWrite && !e.dirty()) e.set(EptEntry::kDirty);
      return EptHit{e.frame(), perms};
    }
    table = e.frame();
  }
}

EptViolation P2m::violation(Gpa gpa, Access access) {
  ++stats_.violations;
  EptEntry* leaf = nullptr;
  const EptPerms perms = path_perms(gpa, &leaf);
  return EptViolation{gpa, access, perms, leaf != nullptr && leaf->holds_frame()};
}

EptPerms P2m::path_perms(Gpa gpa, EptEntry** leaf) const {
  *leaf = nullptr;
  if (gpa.value() >= kGpaLimit) return kEptNone;
  EptPerms perms = kEptRwx;
  Hpa table = root_;
  for (unsigned level = EptEntry::kLevels;; --level) {
    EptEntry& e = walker_.table(table)[Walker::index(gpa.value(), level)];
    if (!e.holds_frame()) return kEptNone;
    perms &= e.perms();
    if (level == 1) {
      *leaf = &e;
      return perms;
    }
    table = e.frame();
  }
}

std::optional<P2mLeaf> P2m::inspect(Gpa gpa) const {
  EptEntry* leaf = nullptr;
  const EptPerms effective = path_perms(gpa, &leaf);
  if (leaf == nullptr) return std::nullopt;
  return P2mLeaf{leaf->frame(), leaf->perms(), effective, leaf->memtype(), leaf->accessed(),
                 leaf->dirty()};
}

P2mStatus P2m::map(Gpa gpa, Hpa hpa, EptPerms perms, EptMemType type) {
  if (gpa.page_offset() != 0 || gpa.value() >= kGpaLimit || !frames_->contains(hpa) ||
      !ept_perms_valid(perms) || !ept_memtype_valid(type)) {
    return P2mStatus::kInvalidArgument;
  }
  EptEntry* leaf = walker_.find_or_create(root_, gpa.value(), 1, stats_.table_frames);
  if (leaf == nullptr) return P2mStatus::kOutOfFrames;
  if (keeper_ != nullptr) keeper_->before_leaf_change(gpa, *leaf);
  const EptEntry old = *leaf;
  *leaf = EptEntry::page(hpa, perms, type);
  ++stats_.entry_writes;
  if (!old.holds_frame()) {
    ++stats_.mapped_pages;
    return P2mStatus::kOk;
  }
  // Invalidate before the old frame can be handed to anyone else.
  notify(gpa, gpa + kPageSize, P2mChange::kFrame);
  frames_->release(old.frame());
  return P2mStatus::kOk;
}

P2mStatus P2m::prepare(Gpa gpa) {
  if (gpa.value() >= kGpaLimit) return P2mStatus::kInvalidArgument;
  return walker_.find_or_create(root_, gpa.value(), 1, stats_.table_frames) != nullptr ? P2mStatus::kOk
                                                                                      : P2mStatus::kOutOfFrames;
}

std::optional<Hpa> P2m::unmap(Gpa gpa) {
  if (gpa.value() >= kGpaLimit) return std::nullopt;
  EptEntry* leaf = walker_.find(root_, gpa.value(), 1);
  if (leaf == nullptr || !leaf->holds_frame()) return std::nullopt;
  if (keeper_ != nullptr) keeper_->before_leaf_change(gpa.page_base(), *leaf);
  const Hpa old = leaf->frame();
  *leaf = EptEntry();
  ++stats_.entry_writes;
  --stats_.mapped_pages;
  notify(gpa.page_base(), gpa.page_base() + kPageSize, P2mChange::kFrame);
  frames_->release(old);
  return old;
}

P2mStatus P2m::protect(Gpa begin, Gpa end, EptPerms perms) {
  if (!ept_perms_valid(perms)) return P2mStatus::kInvalidArgument;
  ChangeRuns runs(*this);
  auto set_rights = [&](uint64_t addr, EptEntry& e, unsigned) {
    if (e.perms() == perms) return;
    e.set_perms(perms);
    ++stats_.entry_writes;
    runs.add(addr);
  };
  walker_.for_each_leaf(root_, begin.value(), end.value(), set_rights);
  return P2mStatus::kOk;
}

P2mStatus P2m::restrict_subtree(Gpa gpa, unsigned level, EptPerms perms) {
  return set_subtree_perms(gpa, level, perms);
}

P2mStatus P2m::unrestrict_subtree(Gpa gpa, unsigned level) {
  return set_subtree_perms(gpa, level, kEptRwx);
}

P2mStatus P2m::set_subtree_perms(Gpa gpa, unsigned level, EptPerms perms) {
  if (level < 2 || level > EptEntry::kLevels || gpa.value() >= kGpaLimit ||
      !ept_perms_valid(perms)) {
    return P2mStatus::kInvalidArgument;
  }
  EptEntry* e = walker_.find(root_, gpa.value(), level);
  if (e == nullptr || !e->holds_frame()) return P2mStatus::kNotMapped;
  if (e->perms() == perms) return P2mStatus::kOk;
  e->set_perms(perms);
  ++stats_.entry_writes;
  const uint64_t span = Walker::span(level);
  const Gpa base{gpa.value() & ~(span - 1)};
  notify(base, base + span, P2mChange::kRights);
  return P2mStatus::kOk;
}

// Effective rights are the AND along the path (SDM Vol 3C §29.3.2), so moving an upper
// entry's rights into each of its children, and giving it RWX, changes no page's rights:
// no cached translation can be wrong, nobody is told.
unsigned P2m::push_down(Gpa gpa) {
  if (gpa.value() >= kGpaLimit) return 0;
  unsigned pushed = 0;
  Hpa table = root_;
  for (unsigned level = EptEntry::kLevels; level > 1; --level) {
    EptEntry& e = walker_.table(table)[Walker::index(gpa.value(), level)];
    if (!e.holds_frame()) break;
    if (const EptPerms rights = e.perms(); rights != kEptRwx) {
      EptEntry* children = walker_.table(e.frame());
      for (unsigned i = 0; i < Walker::kEntriesPerTable; ++i) {
        EptEntry& child = children[i];
        if (!child.holds_frame() || (child.perms() & rights) == child.perms()) continue;
        child.set_perms(child.perms() & rights);
        ++stats_.entry_writes;
      }
      e.set_perms(kEptRwx);
      ++stats_.entry_writes;
      ++pushed;
    }
    table = e.frame();
  }
  stats_.push_downs += pushed;
  return pushed;
}

void P2m::before_leaf_write(Gpa page) {
  if (keeper_ == nullptr || page.value() >= kGpaLimit) return;
  EptEntry* leaf = walker_.find(root_, page.value(), 1);
  if (leaf != nullptr && leaf->holds_frame()) keeper_->before_leaf_change(page.page_base(), *leaf);
}

void P2m::harvest_dirty(Gpa begin, Gpa end, const std::function<void(Gpa)>& on_dirty) {
  ChangeRuns runs(*this);
  auto harvest = [&](uint64_t addr, EptEntry& e, unsigned) {
    if (!e.dirty()) return;
    e.clear(EptEntry::kDirty);
    ++stats_.entry_writes;
    runs.add(addr);
    on_dirty(Gpa{addr});
  };
  walker_.for_each_leaf(root_, begin.value(), end.value(), harvest);
}

bool P2m::test_and_clear_accessed(Gpa gpa) {
  if (gpa.value() >= kGpaLimit) return false;
  EptEntry* leaf = walker_.find(root_, gpa.value(), 1);
  if (leaf == nullptr || !leaf->holds_frame() || !leaf->accessed()) return false;
  leaf->clear(EptEntry::kAccessed);
  ++stats_.entry_writes;
  notify(gpa.page_base(), gpa.page_base() + kPageSize, P2mChange::kRights);
  return true;
}

void P2m::mark_accessed(Gpa gpa) {
  if (gpa.value() >= kGpaLimit) return;
  EptEntry* leaf = walker_.find(root_, gpa.value(), 1);
  if (leaf == nullptr || !leaf->holds_frame() || leaf->accessed()) return;
  leaf->set(EptEntry::kAccessed);
  ++stats_.entry_writes;
}

void P2m::mark_dirty(Gpa gpa) {
  if (gpa.value() >= kGpaLimit) return;
  EptEntry* leaf = walker_.find(root_, gpa.value(), 1);
  if (leaf == nullptr || !leaf->holds_frame() || leaf->dirty()) return;
  leaf->set(EptEntry::kDirty);
  ++stats_.entry_writes;
}

void P2m::for_each_mapping(const MappingVisitor& visit) const {
  for_each_mapping(Gpa{0}, Gpa{kGpaLimit}, visit);
}

void P2m::for_each_mapping(Gpa begin, Gpa end, const MappingVisitor& visit) const {
  auto report = [&](uint64_t addr, EptEntry& e, unsigned) {
    visit(Gpa{addr}, e.frame(), e.perms());
  };
  walker_.for_each_leaf(root_, begin.value(), end.value(), report);
}

void P2m::add_listener(P2mListener* listener) { listeners_.push_back(listener); }

void P2m::remove_listener(P2mListener* listener) { std::erase(listeners_, listener); }

void P2m::notify(Gpa begin, Gpa end, P2mChange change) {
  ++stats_.notifications;
  for (P2mListener* listener : listeners_) listener->on_p2m_change(begin, end, change);
}

}  // namespace densevm
