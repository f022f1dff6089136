// base/memory_info.h - this process's memory as the kernel counts it (Linux /proc/self/status and
// smaps_rollup), for reports (`inspect`, `generate --verbose`, `bench`) and the RAM-budget checks.
#pragma once

#include <cstdint>

namespace lfm2 {

// Resident set size now (VmRSS) and its peak so far (VmHWM), in bytes; 0 when unavailable.
uint64_t CurrentRssBytes();
uint64_t PeakRssBytes();

// Bytes of file-backed memory this process maps with 2 MiB entries (FilePmdMapped from
// /proc/self/smaps_rollup: weights in huge page-cache folios); 0 when unavailable.
uint64_t FilePmdMappedBytes();
// Bytes of anonymous memory in 2 MiB pages (AnonHugePages from /proc/self/smaps_rollup: the
// tiled weights, among others); 0 when unavailable.
uint64_t AnonHugePagesBytes();

// MemAvailable from /proc/meminfo in bytes (what can be allocated without swapping); 0 when
// unavailable.
uint64_t AvailableMemoryBytes();

// Seconds since an arbitrary fixed point (steady clock).
double NowSeconds();

}  // namespace lfm2
