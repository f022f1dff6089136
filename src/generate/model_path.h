// generate/model_path.h - where a --model argument points: a directory as is, or a Hugging Face
// repo id (ORG/NAME) resolved in the local Hugging Face cache the way huggingface_hub lays it out:
// $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub, then
// models--ORG--NAME/snapshots/<revision>/ with the revision read from refs/main.
#pragma once

#include <string>

#include "base/status.h"

namespace lfm2 {

StatusOr<std::string> ResolveModelPath(const std::string& model);

}  // namespace lfm2
