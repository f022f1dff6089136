// MappedFile: reading through the mapping, and PreferHugePages keeping every byte intact while
// it drops and re-reads the page cache (and, where the kernel maps 2 MiB folios, reaching them).
#include "io/mapped_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lfm2 {
namespace {

std::string WriteTempFile(size_t bytes, std::vector<uint8_t>& content) {
  content.resize(bytes);
  std::mt19937_64 rng(11);
  for (size_t i = 0; i < bytes; i += 8) {
    const uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < bytes; ++j) content[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("lfm2_mapped_" + std::to_string(::getpid()) + ".bin")).string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  EXPECT_GE(fd, 0);
  size_t written = 0;
  while (written < bytes) {
    // In 4 KiB writes, which leave the page cache in 4 KiB folios (the case PreferHugePages fixes).
    const ssize_t n = ::write(fd, content.data() + written, std::min<size_t>(4096, bytes - written));
    EXPECT_GT(n, 0);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  ::fdatasync(fd);  // clean pages: the page cache may drop them
  ::close(fd);
  return path;
}

TEST(MappedFileTest, MissingFileIsNotFound) {
  auto file = MappedFile::Open("/nonexistent/lfm2/file.bin");
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().ToString().find("no such file"), std::string::npos);
}

TEST(MappedFileTest, PreferHugePagesKeepsEveryByte) {
  std::vector<uint8_t> content;
  const std::string path = WriteTempFile((size_t{24} << 20) + 12345, content);
  MappedFile::HugePages first;
  {
    auto file = MappedFile::Open(path);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    first = (*file)->PreferHugePages();
    ASSERT_EQ((*file)->size(), content.size());
    EXPECT_EQ(std::memcmp((*file)->data(), content.data(), content.size()), 0);
  }
  // Once the cache was dropped for re-reading, the bytes just read came back in 2 MiB folios: a
  // second mapping finds the probe block huge.
  auto again = MappedFile::Open(path);
  ASSERT_TRUE(again.ok());
  const MappedFile::HugePages second = (*again)->PreferHugePages();
  if (first == MappedFile::HugePages::kRereading || first == MappedFile::HugePages::kAlready) {
    EXPECT_EQ(second, MappedFile::HugePages::kAlready);
  }
  EXPECT_EQ(std::memcmp((*again)->data(), content.data(), content.size()), 0);
  std::printf("PreferHugePages: first %d, second %d (0 not tried, 1 already, 2 re-reading, 3 unsupported)\n",
              static_cast<int>(first), static_cast<int>(second));
  std::filesystem::remove(path);
}

TEST(MappedFileTest, EnvironmentSwitchesItOff) {
  std::vector<uint8_t> content;
  const std::string path = WriteTempFile(size_t{16} << 20, content);
  ::setenv("LFM2_HUGE_PAGES", "0", 1);
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->PreferHugePages(), MappedFile::HugePages::kNotTried);
  ::unsetenv("LFM2_HUGE_PAGES");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lfm2
