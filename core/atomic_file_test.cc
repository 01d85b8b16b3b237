// AtomicFile's target rules (issue 15): a regular or missing file is replaced atomically, a
// symlink is followed and never replaced, a character device or FIFO is written in place,
// anything else is refused; all with one-line errors.
#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace densevm {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class AtomicFileTarget : public ::testing::Test {
 protected:
  static void write_all(const std::string& path, const std::string& text) {
    AtomicFile f(path, 0644, "stats to " + path);
    f.write(bytes_of(text));
    f.commit();
  }
  // The one-line message writing to `path` throws.
  static std::string error_of(const std::string& path) {
    try {
      write_all(path, "{}\n");
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }
  densevm::testing::TempDir dir_{"atomic"};
};

TEST_F(AtomicFileTarget, RegularAndMissingFilesAreReplaced) {
  const fs::path p = dir_ / "out.json";
  write_all(p, "one");
  const auto inode = fs::status(p).type();
  EXPECT_EQ(inode, fs::file_type::regular);
  write_all(p, "two");
  EXPECT_EQ(slurp(p), "two");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(AtomicFileTarget, ASymlinkToARegularFileIsFollowedNotReplaced) {
  const fs::path target = dir_ / "real.json", link = dir_ / "link.json";
  write_all(target, "old");
  fs::create_symlink("real.json", link);  // relative, as users make them
  write_all(link, "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), "real.json");
  EXPECT_EQ(slurp(target), "new");
}

TEST_F(AtomicFileTarget, ADanglingSymlinkCreatesItsTarget) {
  const fs::path link = dir_ / "link.json";
  fs::create_symlink(dir_ / "made.json", link);
  write_all(link, "made");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(slurp(dir_ / "made.json"), "made");
}

TEST_F(AtomicFileTarget, ASymlinkToDevNullStaysALink) {
  const fs::path link = dir_ / "null";
  fs::create_symlink("/dev/null", link);
  write_all(link, "gone");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

// A FIFO gets the whole file, patched bytes included, and stays a FIFO.
TEST_F(AtomicFileTarget, AFifoIsWrittenInPlace) {
  const fs::path fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });
  {
    AtomicFile f(fifo, 0644);
    f.write(bytes_of("xxxx-"));
    f.write(std::vector<uint8_t>(3 << 20, 'a'));  // past the write buffer: staged on disk
    f.write_at(0, bytes_of("head"));
    f.commit();
  }
  reader.join();
  ASSERT_EQ(got.size(), 5u + (3u << 20));
  EXPECT_EQ(got.substr(0, 6), "head-a");
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(AtomicFileTarget, DevFullIsADiskFullErrorInOneLine) {
  const std::string why = error_of("/dev/full");
  EXPECT_EQ(why, "cannot write stats to /dev/full: write: No space left on device");
  EXPECT_TRUE(fs::is_character_file("/dev/full"));
}

// A copy of /dev/full made with mknod: still the same character device afterwards.
TEST_F(AtomicFileTarget, AMknodCopyOfDevFullStaysADevice) {
  struct stat full;
  ASSERT_EQ(::stat("/dev/full", &full), 0);
  const fs::path copy = dir_ / "full";
  if (::mknod(copy.c_str(), S_IFCHR | 0600, full.st_rdev) != 0) {
    GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(errno);
  }
  const std::string why = error_of(copy);
  EXPECT_NE(why.find(": write: No space left on device"), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos);
  struct stat after;
  ASSERT_EQ(::stat(copy.c_str(), &after), 0);
  EXPECT_TRUE(S_ISCHR(after.st_mode));
  EXPECT_EQ(after.st_rdev, full.st_rdev);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(AtomicFileTarget, DirectoriesAndSocketsAreRefused) {
  EXPECT_EQ(error_of(dir_.string()), "cannot write stats to " + dir_.string() + ": " + dir_.string() +
                                " is a directory");
  const fs::path sock = dir_ / "sock";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_NE(error_of(sock).find("is a socket"), std::string::npos);
  ::close(fd);
  EXPECT_EQ(fs::status(sock).type(), fs::file_type::socket);
}

}  // namespace
}  // namespace densevm
