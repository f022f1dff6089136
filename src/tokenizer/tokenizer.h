// tokenizer/tokenizer.h - the public tokenizer: Hugging Face tokenizer.json byte-level BPE with
// exactly HF `tokenizers` semantics (encode with/without special tokens, decode), plus a streaming
// decoder for generation. Flow: text -> added tokens (two passes) -> pre-tokenizer (Split regex,
// ByteLevel) -> BPE by merge rank -> post-processor (TemplateProcessing BOS) -> ids.
//
// Supported tokenizer.json components (anything else is refused at load with a Status naming the
// component and its path, e.g. `tokenizer.json: pre_tokenizer.pretokenizers[2]: unsupported type
// "Metaspace"`):
//   model          BPE (vocab + merges as pairs or "a b" strings; unk_token, fuse_unk,
//                  byte_fallback, ignore_merges, continuing_subword_prefix, end_of_word_suffix;
//                  dropout null or 0)
//   normalizer     null (or an empty Sequence)
//   pre_tokenizer  null, Split (Regex / String pattern, any behavior, invert), ByteLevel,
//                  Sequence of these
//   post_processor null, ByteLevel (offsets only), TemplateProcessing ("single"), Sequence
//   decoder        null (tokens joined by spaces, as HF), ByteLevel, Sequence of one ByteLevel
//   truncation / padding are ignored (transformers disables them unless asked per call).
// tokenizer_config.json (optional) supplies bos/eos/pad token names; when the tokenizer.json has
// no post_processor, its add_bos_token / add_eos_token decide what Encode adds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace lfm2 {

struct EncodeOptions {
  // Apply the post-processor (LFM2: prepend <|startoftext|>). HF add_special_tokens.
  bool add_special_tokens = true;
  // Recognise special-token text such as "<|im_start|>" in the input (HF default). When false,
  // special tokens are tokenized as plain text (HF encode_special_tokens / split_special_tokens).
  bool parse_special_tokens = true;
  // Byte ranges [begin, end) of the text, sorted and disjoint, in which special-token text is
  // plain text even when parse_special_tokens is on: a special token overlapping one is
  // tokenized as HF does with split_special_tokens. For prompts whose control tokens must come
  // only from some parts (a chat template) and never from others (message text). Ignored,
  // together with parse_special_tokens (both then off), when the text is not valid UTF-8, since
  // repairing it would move the ranges.
  std::span<const std::pair<size_t, size_t>> plain_ranges;
};

class Tokenizer {
 public:
  // Reads `dir`/tokenizer.json and, when present, `dir`/tokenizer_config.json. Nothing else
  // (no config.json, no weights) is needed.
  static StatusOr<Tokenizer> FromDirectory(const std::string& dir);
  // Reads one tokenizer.json; `config_path` may be empty.
  static StatusOr<Tokenizer> FromFile(const std::string& tokenizer_json_path,
                                      const std::string& config_path = "");
  // Parses in-memory JSON text; `config_json` may be empty. `source` names the text in errors.
  static StatusOr<Tokenizer> FromJsonText(std::string_view tokenizer_json,
                                          std::string_view config_json = {},
                                          std::string_view source = "tokenizer.json");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of `text`. Text is expected to be UTF-8; ill-formed sequences are first replaced by
  // U+FFFD (as Python's errors="replace"), so any byte string is accepted. Thread-safe.
  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens = true) const;
  std::vector<int32_t> Encode(std::string_view text, const EncodeOptions& options) const;

  // HF Tokenizer.decode(ids, skip_special_tokens): the tokens' strings through the decoder, then
  // UTF-8 with ill-formed sequences replaced by U+FFFD. No clean_up_tokenization_spaces. Ids with
  // no token (out of range) are skipped, as HF does; callers wanting an error check IsValidId.
  std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // 1 + the largest token id (vocab and added tokens). The model's embedding may be larger.
  int32_t vocab_size() const;
  // True when `id` names a token (vocab entry or added token).
  bool IsValidId(int32_t id) const;
  // The token's string as HF's id_to_token gives it (added-token content, else the vocab entry,
  // e.g. "Ġworld"); empty for invalid ids.
  std::string_view TokenText(int32_t id) const;
  // The bytes the token contributes to decoded text before UTF-8 repair (ByteLevel-decoded; with
  // no decoder, the token string). May be a partial UTF-8 sequence. Empty for invalid ids.
  std::string_view TokenBytes(int32_t id) const;
  // HF token_to_id: added-token content first, then the vocab.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // True for special added tokens (content in HF's special-token set), the ones
  // skip_special_tokens removes.
  bool IsSpecial(int32_t id) const;
  // The byte ranges of `text` that Encode (parse_special_tokens on) turns into special tokens,
  // in order; lstrip / rstrip white space included. Empty for invalid UTF-8.
  std::vector<std::pair<size_t, size_t>> FindSpecialTokens(std::string_view text) const;

  // From tokenizer_config.json (bos_token / eos_token / pad_token); without a config, bos_id is
  // the first special token the post-processor prepends, if any.
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> pad_id() const;
  // Whether Encode(text, true) adds anything (LFM2: BOS).
  bool adds_special_tokens() const;

 private:
  friend class StreamingDecoder;
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  static StatusOr<Tokenizer> Load(std::string_view tokenizer_json, std::string_view source,
                                  std::string_view config_json, std::string_view config_source);
  std::unique_ptr<Impl> impl_;
};

// Turns generated ids into text incrementally: Add(id) returns the text that is complete after
// this token and never a partial UTF-8 sequence; incomplete trailing bytes are held until a later
// token completes them. Byte sequences that can no longer become valid are replaced by U+FFFD
// immediately, and Finish() flushes a still-incomplete tail as one U+FFFD. The concatenation of
// all Add() results and Finish() equals Tokenizer::Decode of the same ids. The tokenizer must
// outlive the decoder.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);

  std::string Add(int32_t id);
  std::string Finish();
  // Drops held bytes and starts a new text.
  void Reset();
  // Number of bytes held back (0..3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  std::string pending_;
  bool first_ = true;  // no token emitted yet (decoder-less tokenizers join with spaces)
};

}  // namespace lfm2
