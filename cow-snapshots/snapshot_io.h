// Whole-file reads and crash-safe whole-file writes for snapshot files.
//
// A write goes to a temp file in the same directory, is fsync'ed, then renamed over the
// final name (and the directory fsync'ed), so a reader never sees a half-written snapshot.
//
//   write_file_atomically("vm.snap", bytes);
//   std::vector<uint8_t> back = read_whole_file("vm.snap");   // throws SnapshotError
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace densevm::snapshot {

// Throws std::runtime_error (one line) and removes the temp file on any failure.
void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);
// Throws SnapshotError (one line) if the file cannot be read.
[[nodiscard]] std::vector<uint8_t> read_whole_file(const std::string& path);

}  // namespace densevm::snapshot
