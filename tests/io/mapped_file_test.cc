// MappedFile: reading through the mapping, and PreferHugePages keeping every byte intact while
// it drops and re-reads the page cache (and, where the kernel maps 2 MiB folios, reaching them).
#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

// FilePmdMapped of this process's mapping of `path`, in bytes (-1 if not found).
int64_t FilePmdMapped(const std::string& path) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find('-') < line.find(' ')) {
      inside = line.size() >= path.size() && line.compare(line.size() - path.size(), path.size(), path) == 0;
      continue;
    }
    unsigned long kb = 0;
    if (inside && std::sscanf(line.c_str(), "FilePmdMapped: %lu kB", &kb) == 1) return static_cast<int64_t>(kb) * 1024;
  }
  return -1;
}

bool KernelAtLeast(int major, int minor) {
  struct utsname name;
  int got_major = 0, got_minor = 0;
  return ::uname(&name) == 0 && std::sscanf(name.release, "%d.%d", &got_major, &got_minor) == 2 &&
         (got_major > major || (got_major == major && got_minor >= minor));
}

// One block of an otherwise huge cache read back in 4 KiB pages (as after a partial eviction),
// and not one of the blocks the fallback probes: where the kernel can list small blocks
// (PAGEMAP_SCAN, Linux 6.7+), PreferHugePages finds it and the whole file ends up mapped huge.
TEST(MappedFileTest, PreferHugePagesFindsASmallBlockAmongHugeOnes) {
  constexpr size_t kBlock = size_t{2} << 20, kBlocks = 12, kSmall = 4;  // probes: 0 2 3 5 6 8 9 11
  std::vector<uint8_t> content;
  const std::string path = WriteTempFile(kBlocks * kBlock, content);
  {
    auto file = MappedFile::Open(path);
    ASSERT_TRUE(file.ok());
    (*file)->PreferHugePages();
    EXPECT_EQ(std::memcmp((*file)->data(), content.data(), content.size()), 0);  // read back
    if (FilePmdMapped(path) != static_cast<int64_t>(kBlocks * kBlock)) {
      std::printf("2 MiB page-cache folios are not available here; nothing to check\n");
      std::filesystem::remove(path);
      return;
    }
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ::posix_fadvise(fd, kSmall * kBlock, kBlock, POSIX_FADV_DONTNEED);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);  // no readahead: 4 KiB folios
  uint8_t byte = 0;
  for (size_t offset = 0; offset < kBlock; offset += 4096) {
    ASSERT_EQ(::pread(fd, &byte, 1, static_cast<off_t>(kSmall * kBlock + offset)), 1);
  }
  ::close(fd);
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok());
  const MappedFile::HugePages result = (*file)->PreferHugePages();
  EXPECT_EQ(std::memcmp((*file)->data(), content.data(), content.size()), 0);
  const int64_t huge = FilePmdMapped(path);
  std::printf("PreferHugePages %d; then %lld of %zu bytes mapped huge\n", static_cast<int>(result),
              static_cast<long long>(huge), kBlocks * kBlock);
  if (KernelAtLeast(6, 7)) {
    EXPECT_EQ(result, MappedFile::HugePages::kRereading);
    EXPECT_EQ(huge, static_cast<int64_t>(kBlocks * kBlock));
  }
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
