// A directory of one test's own under the system's temp directory, empty when the test
// starts and removed with everything in it when the test ends. Named after the tag, the
// process and the test, so tests run in parallel (ctest -j) never share one.
//
//   class MyFiles : public ::testing::Test {
//    protected:
//     densevm::testing::TempDir dir_{"myfiles"};
//   };
//   TEST_F(MyFiles, X) { write_to(dir_ / "a.snap"); ... }
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace densevm::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view tag) : dir_(std::filesystem::temp_directory_path() / name_for(tag)) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ignored;  // a test that failed half-way may leave anything behind
    std::filesystem::remove_all(dir_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return dir_; }
  operator const std::filesystem::path&() const { return dir_; }  // NOLINT: used as the path it is
  [[nodiscard]] std::string string() const { return dir_.string(); }
  [[nodiscard]] std::filesystem::path operator/(std::string_view name) const { return dir_ / name; }

  // Writes `bytes` to the file `name` in the directory; returns its path.
  template <typename Byte>
  std::string write(std::string_view name, std::span<const Byte> bytes) const {
    static_assert(sizeof(Byte) == 1);
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

 private:
  static std::string name_for(std::string_view tag) {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "densevm-" + std::string(tag) + "-" + std::to_string(::getpid());
    if (test != nullptr) name += std::string("-") + test->name();
    for (char& c : name) {
      if (c == '/') c = '_';  // parameterised tests' names
    }
    return name;
  }

  std::filesystem::path dir_;
};

}  // namespace densevm::testing
