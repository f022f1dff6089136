// fuzz/fuzz_checkpoint.cc - libFuzzer target for the untrusted bytes of a model directory: the
// input is tried as a safetensors file image (header parsing and validation) and as config.json
// (JSON, model config and quantization block).
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "io/json.h"
#include "io/safetensors.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> metadata;
  auto tensors = lfm2::SafetensorsFile::ParseHeader(std::span<const uint8_t>(data, size),
                                                    "fuzz.safetensors", &metadata);
  if (tensors.ok()) {
    for (const auto& tensor : *tensors) {
      // Every accepted tensor must lie inside the input.
      if (tensor.data < data || tensor.data + tensor.bytes > data + size) __builtin_trap();
    }
  }
  auto json = lfm2::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size), "config.json");
  if (json.ok()) {
    auto config = lfm2::ModelConfig::Parse(*json, json.value().is_object() ? &*json : nullptr, "config.json");
    (void)config;
  }
  return 0;
}
