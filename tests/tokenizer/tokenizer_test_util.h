// tests/tokenizer/tokenizer_test_util.h - shared helpers for the tokenizer tests: locating the
// golden files and building small synthetic tokenizer.json documents.
#pragma once

#include <cstdlib>
#include <string>

#include "io/json.h"
#include "tokenizer/byte_level.h"

namespace lfm2::testing {

// The golden tokenizer folder (LFM2_SHARED_DIR/golden/tokenizer).
inline std::string GoldenTokenizerDir() {
  const char* shared = std::getenv("LFM2_SHARED_DIR");
  if (shared != nullptr && *shared != '\0') return std::string(shared) + "/golden/tokenizer";
#ifdef LFM2_SHARED_DIR_DEFAULT
  return std::string(LFM2_SHARED_DIR_DEFAULT) + "/golden/tokenizer";
#else
  const char* source = std::getenv("LFM2_SOURCE_DIR");
  if (source != nullptr && *source != '\0')
    return std::string(source) + "/../shared/golden/tokenizer";
  return "/work/shared/golden/tokenizer";
#endif
}

inline constexpr char kLfm2Pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// A small LFM2-shaped tokenizer: ids 0..255 = the byte-level characters in byte order, then
// merges h+e, l+l, he+ll, hell+o, Ġ+w, o+r, Ġw+or, Ġwor+ld... and an added special token
// "<|s|>" (BOS, prepended by TemplateProcessing) plus a normalized added word "py".
inline Json MiniTokenizerJson() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) {
    vocab[std::string(tokenizer::ByteLevelChar(static_cast<uint8_t>(b)))] = b;
  }
  const char* const merges[][2] = {{"h", "e"},          {"l", "l"},        {"he", "ll"},
                                   {"hell", "o"},       {"\xC4\xA0", "w"}, {"o", "r"},
                                   {"\xC4\xA0w", "or"}, {"l", "d"},        {"\xC4\xA0wor", "ld"}};
  Json merge_list = Json::array();
  int next_id = 256;
  for (const auto& merge : merges) {
    merge_list.push_back(Json::array({merge[0], merge[1]}));
    const std::string merged = std::string(merge[0]) + merge[1];
    if (!vocab.contains(merged)) vocab[merged] = next_id++;
  }
  vocab["<|s|>"] = next_id++;
  vocab["py"] = next_id++;
  Json added = Json::array();
  added.push_back({{"id", vocab["<|s|>"]},
                   {"content", "<|s|>"},
                   {"single_word", false},
                   {"lstrip", false},
                   {"rstrip", false},
                   {"normalized", false},
                   {"special", true}});
  added.push_back({{"id", vocab["py"]},
                   {"content", "py"},
                   {"single_word", false},
                   {"lstrip", false},
                   {"rstrip", false},
                   {"normalized", true},
                   {"special", false}});
  Json root = Json::object();
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = added;
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", Json::array({Json{{"type", "Split"},
                                          {"pattern", {{"Regex", kLfm2Pattern}}},
                                          {"behavior", "Isolated"},
                                          {"invert", false}},
                                     Json{{"type", "ByteLevel"},
                                          {"add_prefix_space", false},
                                          {"trim_offsets", true},
                                          {"use_regex", false}}})}};
  root["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", Json::array({Json{{"SpecialToken", {{"id", "<|s|>"}, {"type_id", 0}}}},
                              Json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"pair", Json::array()},
      {"special_tokens",
       {{"<|s|>",
         {{"id", "<|s|>"},
          {"ids", Json::array({vocab["<|s|>"]})},
          {"tokens", Json::array({"<|s|>"})}}}}}};
  root["decoder"] = {{"type", "ByteLevel"}};
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"ignore_merges", false},
                   {"vocab", vocab},
                   {"merges", merge_list}};
  return root;
}

}  // namespace lfm2::testing
