// Reference pages: the pages of a known file — a kernel, an initramfs, a binary — as a guest
// holds them in memory, to say how much of a fleet's memory is that file (planner README:
// "how much of four guests is the same kernel and initramfs").
//
// An ELF file contributes its PT_LOAD segments' file bytes, page by page from each segment's
// file offset (a kernel loaded where it was linked holds them so, until it patches itself); a
// cpio "newc" archive (an initramfs) each member file's bytes from its start, as the page
// cache holds the file once unpacked into the rootfs; any other file its bytes from offset 0.
// A short last page is zero-padded, as the page cache holds it.
//
//   Reference kernel = read_reference("kernel", "build/linux/vmlinux");
//   ReferenceMatch m = match_reference(fleet, kernel);   // needs exact page sets
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/fleet.h"

namespace densevm::planner {

struct Reference {
  std::string label;
  std::string path;
  uint64_t file_pages = 0;       // pages read (zero pages included)
  std::vector<uint64_t> pages;   // their distinct non-zero XXH3-64s, ascending
  std::string layout;            // "ELF segments", "cpio members (N)", "file"
};

struct ReferenceMatch {
  std::string label;
  uint64_t reference_pages = 0;  // distinct non-zero pages of the reference
  uint64_t found_pages = 0;      // of those, held by at least one VM
  uint64_t in_every_vm = 0;      // held by every VM
  uint64_t fleet_pages = 0;      // the VMs' pages (all of them, summed) holding one of them
};

// Throws ImageError (one line) if the file cannot be read or a cpio archive is malformed.
[[nodiscard]] Reference read_reference(const std::string& label, const std::string& path);
// Needs the fleet's page hashes (exact page sets): throws PlanError otherwise.
[[nodiscard]] ReferenceMatch match_reference(const Fleet& fleet, const Reference& ref);

}  // namespace densevm::planner
