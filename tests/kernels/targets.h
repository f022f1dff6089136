// tests/kernels/targets.h - runs a test body once per SIMD target that is compiled in and
// supported by this CPU, forcing Highway's dispatch to each in turn.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "hwy/targets.h"

namespace lfm2::testing {

template <typename Body>
void ForEachTarget(const Body& body) {
  const auto targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  for (int64_t target : targets) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(target));
    body(target);
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace lfm2::testing
