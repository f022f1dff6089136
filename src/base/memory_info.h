// base/memory_info.h - this process's memory as the kernel counts it (Linux /proc/self/status and
// smaps_rollup), for reports (`inspect`, `generate --verbose`, `bench`) and the RAM-budget checks.
#pragma once

#include <cstddef>
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

// Hands memory that malloc holds free back to the system (glibc malloc_trim over every arena),
// so a process's RSS returns to its working set after a large transient allocation. Costs a
// walk of the free lists (a few ms): for after large requests, not per token. No-op elsewhere.
void ReleaseFreeMemory();

// Long-running servers: allocations from `bytes` on get their own mappings, returned to the
// system when freed (glibc M_MMAP_THRESHOLD; fixing it also stops glibc from raising it after
// each large free, which leaves later large buffers in the arenas). No-op elsewhere.
void UseMappedAllocationsFrom(size_t bytes);

// Seconds since an arbitrary fixed point (steady clock).
double NowSeconds();

}  // namespace lfm2
