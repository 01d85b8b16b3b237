#include "vmm/cli/options.h"

#include <cctype>
#include <charconv>

namespace densevm {
namespace {

uint64_t parse_count(const std::string& flag, const std::string& text, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    throw UsageError(flag + " takes a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", not '" + text + "'");
  }
  return v;
}

// --kernel boots a Linux guest instead of an ELF guest; --initrd goes with it only.
void check_linux_options(const RunOptions& o) {
  if (o.initrd && !o.kernel) throw UsageError("--initrd needs --kernel: only a Linux guest takes an initrd");
  if (o.kernel && o.guest) {
    throw UsageError("both --kernel " + *o.kernel + " and a guest '" + *o.guest + "' given: boot one");
  }
}

}  // namespace

uint64_t parse_size(const std::string& text) {
  uint64_t v = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || p == begin) throw UsageError("not a size: '" + text + "'");
  std::string suffix(p, end);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() > 1 && (suffix.ends_with("IB") || suffix.ends_with("B"))) {
    suffix.resize(suffix.size() - (suffix.ends_with("IB") ? 2 : 1));
  }
  unsigned shift = 0;
  if (suffix == "K") shift = 10;
  else if (suffix == "M") shift = 20;
  else if (suffix == "G") shift = 30;
  else if (suffix == "T") shift = 40;
  else if (!suffix.empty() && suffix != "B") throw UsageError("not a size: '" + text + "'");
  if (shift && v > (~uint64_t{0} >> shift)) throw UsageError("size too large: '" + text + "'");
  return v << shift;
}

bool run_flag_takes_value(std::string_view flag) {
  static constexpr std::string_view kWithValue[] = {
      "--mem",        "--vms",         "--cmdline", "--mmu",          "--stats",      "--threads", "--slice",
      "--dedup",      "--dedup-rate",  "--dedup-scope", "--groups",   "--balloon-target", "--host-budget",
      "--kernel",     "--initrd",      "--cpu"};
  for (std::string_view f : kWithValue) {
    if (f == flag) return true;
  }
  return false;
}

RunOptions parse_run_options(const std::vector<std::string>& args) {
  RunOptions o;
  bool cmdline_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "--mem") {
      o.mem_bytes = parse_size(value());
      if (o.mem_bytes < (uint64_t{1} << 20) || o.mem_bytes > (uint64_t{128} << 30)) {
        throw UsageError("--mem must be between 1M and 128G");
      }
    } else if (a == "--vms") {
      o.vms = static_cast<unsigned>(parse_count(a, value(), 1, 4096));
    } else if (a == "--cmdline") {
      o.cmdline = value();
      cmdline_given = true;
    } else if (a == "--mmu") {
      const std::string& m = value();
      const std::optional<PagingMode> mode = parse_paging_mode(m);
      if (!mode) throw UsageError("--mmu takes ept, shadow or auto, not '" + m + "'");
      o.mmu = *mode;
    } else if (a == "--check-mmu") {
      o.check_mmu = true;
    } else if (a == "--cpu") {
      const std::string& m = value();
      if (m != "interp" && m != "translate" && m != "auto") {
        throw UsageError("--cpu takes interp, translate or auto, not '" + m + "'");
      }
      o.translate = m != "interp";
    } else if (a == "--stats") {
      o.stats_path = value();
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(parse_count(a, value(), 1, 1024));
    } else if (a == "--slice") {
      o.slice = parse_count(a, value(), 1000, uint64_t{1} << 40);
    } else if (a == "--dedup") {
      const std::string& d = value();
      if (d != "on" && d != "off") throw UsageError("--dedup takes on or off, not '" + d + "'");
      o.dedup = d == "on";
    } else if (a == "--dedup-rate") {
      const std::string& r = value();
      o.dedup_rate = r == "max" ? ScanRate::kUnlimited : parse_count(a, r, 1, uint64_t{1} << 40);
    } else if (a == "--dedup-scope") {
      const std::string& d = value();
      if (d == "host") o.dedup_scope = DedupScope::kHost;
      else if (d == "group") o.dedup_scope = DedupScope::kGroup;
      else if (d == "vm") o.dedup_scope = DedupScope::kVm;
      else throw UsageError("--dedup-scope takes host, group or vm, not '" + d + "'");
    } else if (a == "--groups") {
      o.groups = static_cast<unsigned>(parse_count(a, value(), 1, 4096));
    } else if (a == "--balloon-target") {
      o.balloon_target_bytes = parse_size(value());
    } else if (a == "--host-budget") {
      o.host_budget_bytes = parse_size(value());
      if (o.host_budget_bytes == 0) throw UsageError("--host-budget must be above 0");
    } else if (a == "--kernel" || a == "--initrd") {
      (a == "--kernel" ? o.kernel : o.initrd) = value();
    } else if (a.starts_with("-") && a != "-") {
      throw UsageError("unknown option '" + a + "' (see densevm run --help)");
    } else if (!o.guest) {
      o.guest = a;
    } else {
      throw UsageError("more than one guest given: '" + *o.guest + "' and '" + a + "'");
    }
  }
  if (o.balloon_target_bytes && *o.balloon_target_bytes > o.mem_bytes) {
    throw UsageError("--balloon-target must not exceed --mem");
  }
  check_linux_options(o);
  if (o.kernel && !cmdline_given) o.cmdline = "console=ttyS0";  // Linux's console is COM1
  return o;
}

const char* run_usage() {
  return "usage: densevm run [GUEST.elf] [--mem SIZE] [--vms N] [--cmdline STR]\n"
         "                   [--mmu ept|shadow|auto] [--check-mmu] [--stats PATH|-] [--threads K]\n"
         "                   [--dedup on|off] [--dedup-rate N|max] [--dedup-scope host|group|vm]\n"
         "                   [--groups G] [--balloon-target SIZE] [--host-budget SIZE]\n"
         "                   [--kernel vmlinuz|vmlinux [--initrd FILE]]\n"
         "                   [--checkpoint-at INSTRUCTIONS|marker[:K] [--save FILE [--compress]]\n"
         "                    [--clones K | --rollback-every M [--rollbacks K]]]\n"
         "\n"
         "Boots N guests (default: the built-in guest kernel, workload=hello) in one process.\n"
         "  --mem SIZE      RAM per guest, e.g. 256M, 1G (default 256M)\n"
         "  --vms N         number of guests; guest K gets vm=K on its command line\n"
         "  --cmdline STR   guest kernel command line (default: workload=hello)\n"
         "  --kernel FILE   boot a Linux kernel (a bzImage such as /boot/vmlinuz, or a\n"
         "                  vmlinux ELF) instead of the built-in guest; --cmdline is then\n"
         "                  its command line (default console=ttyS0)\n"
         "  --initrd FILE   the Linux guest's initramfs\n"
         "  --mmu MODE      shadow (shadow page tables), ept (nested paging through the\n"
         "                  EPT-format P2M) or auto (switches by measured cost; default)\n"
         "  --check-mmu     audit the shadow tables against the guest's after every slice\n"
         "  --stats PATH    write run statistics as JSON to PATH, or - for stdout\n"
         "  --threads K     host worker threads (default: one per core)\n"
         "  --dedup on|off  content-hash page sharing with copy-on-write (default off for now)\n"
         "  --dedup-rate N  pages scanned per VM per virtual second (10^9 instructions),\n"
         "                  or max for a full pass every epoch (default 100000)\n"
         "  --dedup-scope S who may share a page: host (anyone), group, vm (itself);\n"
         "                  zero pages are shared in every scope (default host)\n"
         "  --groups G      VM K belongs to group K mod G (default 1)\n"
         "  --balloon-target SIZE  guest memory each VM keeps: its balloon takes the rest,\n"
         "                  num_pages = (mem - SIZE) / 4K (default: no balloon)\n"
         "  --host-budget SIZE  host memory for all guests: the balloon policy sets each\n"
         "                  VM's target from guest statistics, taxing idle memory and\n"
         "                  sparing growing guests; stopped VMs give their RAM back\n"
         "  --checkpoint-at N  (each VM) after exactly N retired instructions (or\n"
         "                  'marker[:K]': right after the guest's K-th marker), freeze\n"
         "                  the VM into a template in memory and run on from it at once,\n"
         "                  saving it to --save FILE in the background (--compress: zstd);\n"
         "                  densevm restore FILE resumes it (see README.md); with --vms N\n"
         "                  each VM to FILE with .vmK before its extension\n"
         "  --clones K      at the checkpoint, run K clones of the VM (vm0..vmK-1, each\n"
         "                  with its own generation id) instead of the VM, on --threads\n"
         "  --rollback-every M  after the checkpoint, run M instructions and roll back in\n"
         "                  memory (only changed pages), --rollbacks K times\n";
}

}  // namespace densevm
