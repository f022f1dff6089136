// base/check.h - CHECK macros for programmer errors (broken invariants). User and environment
// errors never use these: they return a Status (base/status.h).
#pragma once

namespace lfm2::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition, const char* message);
}  // namespace lfm2::internal

// Aborts with file:line and the condition when `condition` is false, in every build type.
#define LFM2_CHECK(condition)                                                     \
  do {                                                                            \
    if (__builtin_expect(!(condition), 0))                                        \
      ::lfm2::internal::CheckFailed(__FILE__, __LINE__, #condition, nullptr);     \
  } while (0)

#define LFM2_CHECK_MSG(condition, message)                                        \
  do {                                                                            \
    if (__builtin_expect(!(condition), 0))                                        \
      ::lfm2::internal::CheckFailed(__FILE__, __LINE__, #condition, (message));   \
  } while (0)

#ifdef NDEBUG
#define LFM2_DCHECK(condition) \
  do {                         \
  } while (0 && (condition))
#else
#define LFM2_DCHECK(condition) LFM2_CHECK(condition)
#endif
