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

RunOptions parse_run_options(const std::vector<std::string>& args) {
  RunOptions o;
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
    } else if (a == "--mmu") {
      const std::string& m = value();
      if (m == "ept") o.mmu = MmuMode::kEpt;
      else if (m == "shadow") o.mmu = MmuMode::kShadow;
      else if (m == "auto") o.mmu = MmuMode::kAuto;
      else throw UsageError("--mmu takes ept, shadow or auto, not '" + m + "'");
    } else if (a == "--stats") {
      o.stats_path = value();
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(parse_count(a, value(), 1, 1024));
    } else if (a == "--slice") {
      o.slice = parse_count(a, value(), 1000, uint64_t{1} << 40);
    } else if (a.starts_with("-") && a != "-") {
      throw UsageError("unknown option '" + a + "' (see densevm run --help)");
    } else if (!o.guest) {
      o.guest = a;
    } else {
      throw UsageError("more than one guest given: '" + *o.guest + "' and '" + a + "'");
    }
  }
  return o;
}

const char* run_usage() {
  return "usage: densevm run [GUEST.elf] [--mem SIZE] [--vms N] [--cmdline STR]\n"
         "                   [--mmu ept|shadow|auto] [--stats PATH|-] [--threads K]\n"
         "\n"
         "Boots N guests (default: the built-in guest kernel, workload=hello) in one process.\n"
         "  --mem SIZE      RAM per guest, e.g. 256M, 1G (default 256M)\n"
         "  --vms N         number of guests; guest K gets vm=K on its command line\n"
         "  --cmdline STR   guest kernel command line (default: workload=hello)\n"
         "  --mmu MODE      memory virtualization: ept (nested paging)\n"
         "  --stats PATH    write run statistics as JSON to PATH, or - for stdout\n"
         "  --threads K     host worker threads (default: one per core)\n";
}

}  // namespace densevm
