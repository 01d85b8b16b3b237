#include "planner/progress_bar.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace densevm::planner {
namespace {

TEST(ProgressBar, WritesNothingWhenNotOnATerminal) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressBar bar("image", ProgressBar::Unit::kBytes, f);
    EXPECT_FALSE(bar.shown());
    bar.update(1, 2);
    bar.update(2, 2);
  }
  EXPECT_EQ(std::ftell(f), 0) << "a file is not a terminal";
  std::fclose(f);
}

}  // namespace
}  // namespace densevm::planner
