// base/memory_info.cc - /proc/self/status, smaps_rollup and /proc/meminfo parsing.
#include "base/memory_info.h"

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace lfm2 {
namespace {
uint64_t StatusField(const char* field, const char* path = "/proc/self/status") {
  FILE* file = std::fopen(path, "r");
  if (file == nullptr) return 0;
  char line[256];
  uint64_t kib = 0;
  const size_t length = std::strlen(field);
  while (std::fgets(line, sizeof(line), file) != nullptr) {
    if (std::strncmp(line, field, length) == 0 && line[length] == ':') {
      unsigned long long value = 0;
      if (std::sscanf(line + length + 1, "%llu", &value) == 1) kib = value;
      break;
    }
  }
  std::fclose(file);
  return kib * 1024;
}
}  // namespace

uint64_t CurrentRssBytes() { return StatusField("VmRSS"); }
uint64_t PeakRssBytes() { return StatusField("VmHWM"); }
uint64_t FilePmdMappedBytes() { return StatusField("FilePmdMapped", "/proc/self/smaps_rollup"); }
uint64_t AnonHugePagesBytes() { return StatusField("AnonHugePages", "/proc/self/smaps_rollup"); }
uint64_t AvailableMemoryBytes() { return StatusField("MemAvailable", "/proc/meminfo"); }

void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void UseMappedAllocationsFrom(size_t bytes) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(bytes));
#else
  (void)bytes;
#endif
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace lfm2
