#include "mmu/shadow_checker.h"

#include <cstdarg>
#include <cstdio>

#include "shadow-pt/shadow_entry.h"

namespace densevm {
namespace {

using Walker = PageTableWalker<X86Pte>;

// Rights accumulated down the shadow path, as the processor would AND them.
struct PathRights {
  bool writable = true;
  bool user = true;
  bool executable = true;
};

class Checker {
 public:
  explicit Checker(const ShadowMmu& mmu)
      : mmu_(mmu), tables_(mmu.tables()), memory_(mmu.memory()) {}

  std::vector<std::string> run() {
    mmu_.roots().for_each([&](const ShadowRoot& root) {
      if (!root.cell.present()) return;
      const ShadowTable* pml4 = tables_.find(root.cell.frame());
      if (pml4 == nullptr) {
        return report("root 0x%llx: shadow PML4 has no metadata", va_ull(root.guest_root.value()));
      }
      if (pml4->direct || pml4->gfn != root.guest_root.page_number() || pml4->level != 4 ||
          pml4->parent != &root.cell || pml4->nxe != root.nxe) {
        return report("root 0x%llx: shadow PML4 mirrors the wrong table", va_ull(root.guest_root.value()));
      }
      root_ = &root;
      visit(*pml4, 0, PathRights{});
    });
    return std::move(problems_);
  }

 private:
  void report(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    char buf[256];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    problems_.emplace_back(buf);
  }

  [[nodiscard]] bool unsync(const ShadowTable& t) const {
    if (t.direct) return false;
    const auto it = tables_.guest_tables().find(t.gfn);
    return it != tables_.guest_tables().end() && it->second.unsync;
  }

  // The guest's copy of a mirrored table, read through the EPT without side effects.
  [[nodiscard]] const X86Pte* guest_table(const ShadowTable& t) {
    const std::optional<P2mLeaf> page = memory_.mapping(Gpa::from_page(t.gfn));
    if (!page) return nullptr;
    return reinterpret_cast<const X86Pte*>(memory_.frames().host_ptr(page->hpa));
  }

  void visit(const ShadowTable& t, uint64_t base, PathRights rights) {
    if (!t.direct && !unsync(t) &&
        (mmu_.tracking().reasons(Gpa::from_page(t.gfn)) & PageTracking::kPageTable) == 0) {
      report("guest table 0x%llx is shadowed but not write-tracked",
             static_cast<unsigned long long>(t.gfn << kPageShift));
    }
    const X86Pte* guest = t.direct ? nullptr : guest_table(t);
    if (!t.direct && guest == nullptr) {
      return report("guest table 0x%llx is shadowed but not mapped",
                    static_cast<unsigned long long>(t.gfn << kPageShift));
    }
    const X86Pte* entries = tables_.entries(t);
    for (unsigned i = 0; i < ShadowPageTables::kEntries; ++i) {
      const X86Pte e = entries[i];
      if (!e.present()) continue;
      const uint64_t va = base + i * Walker::span(t.level);
      if (t.level == 1) {
        check_leaf(t, i, va, rights);
        continue;
      }
      const ShadowTable* child = tables_.find(e.frame());
      if (child == nullptr || child->level != t.level - 1 || child->parent != &entries[i]) {
        report("va 0x%llx level %u: entry points at no table of ours", va_ull(va), t.level);
        continue;
      }
      uint64_t want_rights = X86Pte::kPresent | X86Pte::kWritable | X86Pte::kUser;
      bool want_direct = true;
      uint64_t want_gfn = t.gfn + i * Walker::kEntriesPerTable;
      if (!t.direct) {
        const X86Pte g = guest[i];
        const bool large = (t.level == 2 || t.level == 3) && (g.raw() & X86Pte::kPageSize) != 0;
        if (!g.present() || !g.accessed() ||
            (g.raw() & x86_reserved_bits(t.level, large, kGuestMaxPhysAddrBits, t.nxe)) != 0) {
          report("va 0x%llx level %u: shadowed, but the guest entry 0x%llx is not a used table",
                 va_ull(va), t.level, static_cast<unsigned long long>(g.raw()));
          continue;
        }
        want_rights = shadow_upper_rights(g, t.nxe);
        want_direct = large;
        want_gfn = (large ? g.page_base(t.level) : g.address()) >> kPageShift;
      }
      if ((e.raw() & kShadowRightsMask) != want_rights || child->direct != want_direct ||
          child->gfn != want_gfn) {
        report("va 0x%llx level %u: shadow entry 0x%llx disagrees with the guest", va_ull(va),
               t.level, static_cast<unsigned long long>(e.raw()));
        continue;
      }
      const PathRights below{rights.writable && e.writable(), rights.user && e.user(),
                             rights.executable && !e.no_execute()};
      visit(*child, va, below);
    }
  }

  void check_leaf(const ShadowTable& t, unsigned index, uint64_t va, PathRights rights) {
    const X86Pte* slot = &tables_.entries(t)[index];
    const X86Pte e = *slot;
    const uint64_t gfn = tables_.leaf_gfn(t, index);
    if (!tables_.rmap().contains(gfn, slot)) report("va 0x%llx: leaf missing from the rmap", va_ull(va));
    const std::optional<P2mLeaf> page = memory_.mapping(Gpa::from_page(gfn));
    if (!page || page->hpa != e.frame() || (page->effective_perms & kEptRead) == 0) {
      return report("va 0x%llx: leaf 0x%llx does not match the EPT for gfn 0x%llx", va_ull(va),
                    static_cast<unsigned long long>(e.raw()), static_cast<unsigned long long>(gfn));
    }
    const bool pt_tracked =
        (mmu_.tracking().reasons(Gpa::from_page(gfn)) & PageTracking::kPageTable) != 0;
    if ((e.writable() && pt_tracked) || ((e.raw() & kShadowWriteTracked) != 0 && !pt_tracked)) {
      report("va 0x%llx: leaf write rights disagree with tracking", va_ull(va));
    }
    if (shadow_write_capable(e) && ((page->effective_perms & kEptWrite) == 0 || !page->dirty)) {
      report("va 0x%llx: leaf writable but the EPT is not (or its D bit is clear)", va_ull(va));
    }
    if (unsync(t)) return;  // may lag the guest until INVLPG or the next CR3 load
    PagingContext ctx;
    ctx.cr3 = root_->guest_root.value();
    ctx.nxe = root_->nxe;
    const GuestWalk w = walk_guest(memory_, Gva{va}, Access::kRead, ctx, WalkMode::kPeek);
    if (w.kind != GuestWalk::Kind::kHit) {
      return report("va 0x%llx: shadow maps it, a fresh walk does not (kind %d, error %u)",
                    va_ull(va), static_cast<int>(w.kind), w.error_code);
    }
    const X86Pte g = w.level(w.leaf_level).entry;
    const bool exec = w.executable && (w.ept_perms & kEptExec) != 0;
    const bool shadow_exec = rights.executable && !e.no_execute();
    const bool shadow_write = rights.writable && shadow_write_capable(e);
    if (w.gpa.page_number() != gfn || w.hpa != e.frame()) {
      report("va 0x%llx: shadow maps gfn 0x%llx, the guest gfn 0x%llx", va_ull(va),
             static_cast<unsigned long long>(gfn),
             static_cast<unsigned long long>(w.gpa.page_number()));
    } else if (!g.accessed() || (rights.user && e.user()) != w.user || shadow_exec != exec) {
      report("va 0x%llx: user/exec rights or A bit differ from the guest walk", va_ull(va));
    } else if (shadow_write && !(w.writable && g.dirty())) {
      report("va 0x%llx: shadow writable where the guest is not (or D is clear)", va_ull(va));
    }
  }

  static unsigned long long va_ull(uint64_t va) { return va; }

  const ShadowMmu& mmu_;
  const ShadowPageTables& tables_;
  GuestMemory& memory_;
  const ShadowRoot* root_ = nullptr;
  std::vector<std::string> problems_;
};

}  // namespace

std::vector<std::string> check_shadow(const ShadowMmu& mmu) { return Checker(mmu).run(); }

}  // namespace densevm
