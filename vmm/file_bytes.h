// read_file_bytes: a whole regular file (a guest kernel, an initrd) read into memory.
//
// Host input at the CLI edge: a missing file, a directory, a device or a file over the limit
// throws std::runtime_error with one line naming the path ("cannot open PATH: ...").
//
//   std::vector<uint8_t> initrd = read_file_bytes("initramfs.cpio");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace densevm {

inline constexpr uint64_t kMaxGuestFileBytes = uint64_t{1} << 30;

[[nodiscard]] std::vector<uint8_t> read_file_bytes(const std::string& path,
                                                   uint64_t max_bytes = kMaxGuestFileBytes);

}  // namespace densevm
