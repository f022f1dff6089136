// server/structured_output.h - response_format -> a token constraint factory for the scheduler:
// {"type":"json_object"} and {"type":"json_schema"} compile (once per request) into a grammar
// over the model's vocabulary (sampling/json_schema.h); each job gets its own matcher.
#pragma once

#include <functional>
#include <memory>

#include "generate/engine.h"
#include "server/openai_request.h"
#include "sampling/sampler.h"

namespace lfm2::server {

using ConstraintFactory = std::function<std::unique_ptr<TokenConstraint>()>;

class StructuredOutput {
 public:
  // Builds the vocabulary view (token bytes, stop ids) once; the engine must have a tokenizer.
  explicit StructuredOutput(const Engine& engine);
  ~StructuredOutput();

  // An empty factory for text; kInvalidArgument / kUnsupported for schemas that do not compile.
  StatusOr<ConstraintFactory> Factory(const ResponseFormat& format) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lfm2::server
