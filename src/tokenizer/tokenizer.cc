// tokenizer/tokenizer.cc - loads tokenizer.json (+ tokenizer_config.json) into the components and
// runs HF's encode / decode pipeline (see tokenizer.h).
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "io/json.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode_util.h"

namespace lfm2 {
namespace {

using tokenizer::AddedVocabulary;
using tokenizer::BpeModel;
using tokenizer::PreTokenizer;

enum class DecoderKind {
  kJoinWithSpaces,  // no decoder: HF joins the token strings with " "
  kConcatenate,     // an empty decoder Sequence: token strings joined with ""
  kByteLevel,
};

// One item of a TemplateProcessing "single" template: the sequence itself, or fixed ids.
struct TemplateItem {
  bool is_sequence = false;
  std::vector<int32_t> ids;
};
using Template = std::vector<TemplateItem>;

Status ParseNormalizer(const Json& value, const std::string& where) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_object()) return InvalidArgumentError(where, ": expected an object or null");
  LFM2_ASSIGN_OR_RETURN(std::string type, GetString(value, "type", where));
  if (type == "Sequence") {
    const Json* children = FindMember(value, "normalizers");
    if (children == nullptr || !children->is_array()) {
      return InvalidArgumentError(where, ": Sequence needs a \"normalizers\" array");
    }
    for (size_t i = 0; i < children->size(); ++i) {
      LFM2_RETURN_IF_ERROR(ParseNormalizer((*children)[i], StrCat(where, ".normalizers[", i, "]")));
    }
    return Status::Ok();
  }
  return UnsupportedError(where, ": unsupported type \"", type,
                          "\" (only a null normalizer is supported)");
}

StatusOr<DecoderKind> ParseDecoder(const Json& value, const std::string& where) {
  if (value.is_null()) return DecoderKind::kJoinWithSpaces;
  if (!value.is_object()) return InvalidArgumentError(where, ": expected an object or null");
  LFM2_ASSIGN_OR_RETURN(std::string type, GetString(value, "type", where));
  if (type == "ByteLevel") return DecoderKind::kByteLevel;
  if (type != "Sequence") {
    return UnsupportedError(where, ": unsupported type \"", type,
                            "\" (supported: ByteLevel, Sequence)");
  }
  const Json* children = FindMember(value, "decoders");
  if (children == nullptr || !children->is_array()) {
    return InvalidArgumentError(where, ": Sequence needs a \"decoders\" array");
  }
  if (children->empty()) return DecoderKind::kConcatenate;
  for (size_t i = 0; i < children->size(); ++i) {
    const std::string child_where = StrCat(where, ".decoders[", i, "]");
    const Json& child = (*children)[i];
    if (!child.is_object()) return InvalidArgumentError(child_where, ": expected an object");
    LFM2_ASSIGN_OR_RETURN(std::string child_type, GetString(child, "type", child_where));
    if (child_type != "ByteLevel") {
      return UnsupportedError(child_where, ": unsupported type \"", child_type,
                              "\" (supported: ByteLevel)");
    }
    if (i > 0) return UnsupportedError(child_where, ": more than one ByteLevel decoder");
  }
  return DecoderKind::kByteLevel;
}

StatusOr<std::vector<int32_t>> ReadIds(const Json& value, const std::string& where) {
  LFM2_ASSIGN_OR_RETURN(std::vector<int64_t> raw, GetIntArray(value, where));
  std::vector<int32_t> ids;
  for (int64_t id : raw) {
    if (id < 0 || id > BpeModel::kMaxId)
      return InvalidArgumentError(where, ": id ", id, " out of range");
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

Status ParseTemplateProcessing(const Json& value, const std::string& where, Template* out) {
  // special_tokens: {"<name>": {"id": "<name>", "ids": [..], "tokens": [..]}}
  const Json* specials = FindMember(value, "special_tokens");
  if (specials != nullptr && !specials->is_null() && !specials->is_object()) {
    return InvalidArgumentError(where, ".special_tokens: expected an object");
  }
  const Json* single = FindMember(value, "single");
  if (single == nullptr || !single->is_array()) {
    return InvalidArgumentError(where, ".single: missing or not an array");
  }
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& piece = (*single)[i];
    const std::string piece_where = StrCat(where, ".single[", i, "]");
    if (!piece.is_object() || piece.size() != 1) {
      return InvalidArgumentError(piece_where,
                                  ": expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
    if (const Json* sequence = FindMember(piece, "Sequence")) {
      LFM2_ASSIGN_OR_RETURN(std::string id, GetString(*sequence, "id", piece_where));
      if (id != "A")
        return InvalidArgumentError(piece_where,
                                    ": a single template can only use sequence A, got ", id);
      out->push_back(TemplateItem{true, {}});
      continue;
    }
    const Json* special = FindMember(piece, "SpecialToken");
    if (special == nullptr) {
      return InvalidArgumentError(piece_where,
                                  ": expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
    LFM2_ASSIGN_OR_RETURN(std::string name, GetString(*special, "id", piece_where));
    const Json* entry = specials == nullptr ? nullptr : FindMember(*specials, name);
    if (entry == nullptr || !entry->is_object()) {
      return InvalidArgumentError(where, ": missing SpecialToken \"", name, "\" in special_tokens");
    }
    const Json* ids = FindMember(*entry, "ids");
    if (ids == nullptr)
      return InvalidArgumentError(where, ".special_tokens.", name, ": missing \"ids\"");
    LFM2_ASSIGN_OR_RETURN(std::vector<int32_t> parsed,
                          ReadIds(*ids, StrCat(where, ".special_tokens.", name, ".ids")));
    out->push_back(TemplateItem{false, std::move(parsed)});
  }
  return Status::Ok();
}

Status ParsePostProcessor(const Json& value, const std::string& where, std::vector<Template>* out) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_object()) return InvalidArgumentError(where, ": expected an object or null");
  LFM2_ASSIGN_OR_RETURN(std::string type, GetString(value, "type", where));
  if (type == "ByteLevel") return Status::Ok();  // offset trimming only
  if (type == "TemplateProcessing") {
    out->emplace_back();
    return ParseTemplateProcessing(value, where, &out->back());
  }
  if (type == "Sequence") {
    const Json* children = FindMember(value, "processors");
    if (children == nullptr || !children->is_array()) {
      return InvalidArgumentError(where, ": Sequence needs a \"processors\" array");
    }
    for (size_t i = 0; i < children->size(); ++i) {
      LFM2_RETURN_IF_ERROR(
          ParsePostProcessor((*children)[i], StrCat(where, ".processors[", i, "]"), out));
    }
    return Status::Ok();
  }
  return UnsupportedError(where, ": unsupported type \"", type,
                          "\" (supported: TemplateProcessing, ByteLevel, Sequence)");
}

// A token named in tokenizer_config.json: a string, {"content": "..."} or null.
StatusOr<std::optional<std::string>> ConfigTokenName(const Json& config, std::string_view key,
                                                     std::string_view where) {
  const Json* value = FindMember(config, key);
  if (value == nullptr || value->is_null()) return std::optional<std::string>();
  if (value->is_string()) return std::optional<std::string>(value->get<std::string>());
  if (value->is_object()) {
    LFM2_ASSIGN_OR_RETURN(std::string content,
                          GetString(*value, "content", StrCat(where, ".", key)));
    return std::optional<std::string>(content);
  }
  return InvalidArgumentError(where, ": ", key, " must be a string, an object or null");
}

}  // namespace

struct Tokenizer::Impl {
  BpeModel model;
  AddedVocabulary added;
  PreTokenizer pre_tokenizer;
  DecoderKind decoder = DecoderKind::kByteLevel;
  bool has_post_processor = false;
  std::vector<Template> templates;     // post-processors, applied in order
  std::vector<int32_t> config_prefix;  // without a post-processor: from tokenizer_config.json
  std::vector<int32_t> config_suffix;
  std::vector<std::string> token_text;   // per id; empty when invalid
  std::vector<std::string> token_bytes;  // per id; decoder output before UTF-8 repair
  std::vector<uint8_t> token_flags;      // kValid | kSpecial
  std::optional<int32_t> bos, eos, pad;

  static constexpr uint8_t kValid = 1, kSpecial = 2;

  Impl(BpeModel m, AddedVocabulary a, PreTokenizer p)
      : model(std::move(m)), added(std::move(a)), pre_tokenizer(std::move(p)) {}

  bool Valid(int32_t id) const {
    return id >= 0 && id < static_cast<int32_t>(token_flags.size()) && (token_flags[id] & kValid);
  }
  bool Special(int32_t id) const { return Valid(id) && (token_flags[id] & kSpecial); }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

StatusOr<Tokenizer> Tokenizer::FromDirectory(const std::string& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return NotFoundError(dir, ": not a directory (expected a model directory with tokenizer.json)");
  }
  const std::filesystem::path base(dir);
  const std::string json_path = (base / "tokenizer.json").string();
  if (!std::filesystem::is_regular_file(json_path, error)) {
    return NotFoundError(dir, ": no tokenizer.json in this directory");
  }
  const std::string config_path = (base / "tokenizer_config.json").string();
  return FromFile(json_path,
                  std::filesystem::is_regular_file(config_path, error) ? config_path : "");
}

StatusOr<Tokenizer> Tokenizer::FromFile(const std::string& tokenizer_json_path,
                                        const std::string& config_path) {
  LFM2_ASSIGN_OR_RETURN(std::string json_text, ReadFileToString(tokenizer_json_path));
  std::string config_text;
  if (!config_path.empty()) {
    LFM2_ASSIGN_OR_RETURN(config_text, ReadFileToString(config_path));
    if (config_text.empty()) return InvalidArgumentError(config_path, ": empty file");
  }
  return Load(json_text, tokenizer_json_path, config_text, config_path);
}

StatusOr<Tokenizer> Tokenizer::FromJsonText(std::string_view tokenizer_json,
                                            std::string_view config_json, std::string_view source) {
  return Load(tokenizer_json, source, config_json, "tokenizer_config.json");
}

StatusOr<Tokenizer> Tokenizer::Load(std::string_view tokenizer_json, std::string_view source,
                                    std::string_view config_json, std::string_view config_source) {
  const std::string where(source);
  LFM2_ASSIGN_OR_RETURN(Json root, ParseJson(tokenizer_json, source));
  if (!root.is_object())
    return InvalidArgumentError(where, ": expected a JSON object at the top level");
  LFM2_ASSIGN_OR_RETURN(std::string version, FindString(root, "version", "1.0", where));
  if (version != "1.0")
    return UnsupportedError(where, ": unknown tokenizer version \"", version, "\"");

  const Json null_json;
  auto member = [&](std::string_view key) -> const Json& {
    const Json* value = FindMember(root, key);
    return value == nullptr ? null_json : *value;
  };
  LFM2_RETURN_IF_ERROR(ParseNormalizer(member("normalizer"), StrCat(where, ": normalizer")));
  const Json* model_json = FindMember(root, "model");
  if (model_json == nullptr) return InvalidArgumentError(where, ": missing \"model\"");
  LFM2_ASSIGN_OR_RETURN(BpeModel model, BpeModel::FromJson(*model_json, StrCat(where, ": model")));
  LFM2_ASSIGN_OR_RETURN(
      PreTokenizer pre_tokenizer,
      PreTokenizer::FromJson(member("pre_tokenizer"), StrCat(where, ": pre_tokenizer")));
  LFM2_ASSIGN_OR_RETURN(AddedVocabulary added,
                        AddedVocabulary::FromJson(FindMember(root, "added_tokens"), model,
                                                  StrCat(where, ": added_tokens")));
  auto impl = std::make_unique<Impl>(std::move(model), std::move(added), std::move(pre_tokenizer));
  LFM2_ASSIGN_OR_RETURN(impl->decoder, ParseDecoder(member("decoder"), StrCat(where, ": decoder")));
  impl->has_post_processor = !member("post_processor").is_null();
  LFM2_RETURN_IF_ERROR(ParsePostProcessor(member("post_processor"),
                                          StrCat(where, ": post_processor"), &impl->templates));

  // Per-id tables: text, decoded bytes, flags.
  const int32_t limit = std::max(impl->model.id_limit(), impl->added.id_limit());
  impl->token_text.resize(limit);
  impl->token_bytes.resize(limit);
  impl->token_flags.assign(limit, 0);
  for (int32_t id = 0; id < limit; ++id) {
    const std::string* text = nullptr;
    if (const tokenizer::AddedToken* token = impl->added.FindById(id)) {
      text = &token->content;
    } else {
      text = impl->model.IdToToken(id);
    }
    if (text == nullptr) continue;
    impl->token_text[id] = *text;
    impl->token_flags[id] = Impl::kValid;
    if (impl->added.IsSpecialContent(*text)) impl->token_flags[id] |= Impl::kSpecial;
    if (impl->decoder == DecoderKind::kByteLevel) {
      tokenizer::AppendByteLevelDecoded(*text, &impl->token_bytes[id]);
    } else {
      impl->token_bytes[id] = *text;
    }
  }
  for (const Template& t : impl->templates) {
    for (const TemplateItem& item : t) {
      for (int32_t id : item.ids) {
        if (!impl->Valid(id)) {
          return InvalidArgumentError(where, ": post_processor: special token id ", id,
                                      " is not a token");
        }
      }
    }
  }
  if (!impl->templates.empty() && !impl->templates.front().empty()) {
    const TemplateItem& first = impl->templates.front().front();
    if (!first.is_sequence && first.ids.size() == 1) impl->bos = first.ids[0];
  }

  if (!config_json.empty()) {
    const std::string config_where(config_source);
    LFM2_ASSIGN_OR_RETURN(Json config, ParseJson(config_json, config_where));
    if (!config.is_object()) return InvalidArgumentError(config_where, ": expected a JSON object");
    auto resolve = [&](std::string_view key) -> StatusOr<std::optional<int32_t>> {
      LFM2_ASSIGN_OR_RETURN(std::optional<std::string> name,
                            ConfigTokenName(config, key, config_where));
      if (!name) return std::optional<int32_t>();
      std::optional<int32_t> id = impl->added.FindByContent(*name);
      if (!id) id = impl->model.TokenToId(*name);
      if (!id)
        return InvalidArgumentError(config_where, ": ", key, " \"", *name, "\" is not a token");
      return id;
    };
    LFM2_ASSIGN_OR_RETURN(std::optional<int32_t> bos, resolve("bos_token"));
    LFM2_ASSIGN_OR_RETURN(std::optional<int32_t> eos, resolve("eos_token"));
    LFM2_ASSIGN_OR_RETURN(std::optional<int32_t> pad, resolve("pad_token"));
    LFM2_ASSIGN_OR_RETURN(bool add_bos, FindBool(config, "add_bos_token", false, config_where));
    LFM2_ASSIGN_OR_RETURN(bool add_eos, FindBool(config, "add_eos_token", false, config_where));
    if (bos) impl->bos = bos;
    impl->eos = eos;
    impl->pad = pad;
    if (!impl->has_post_processor) {
      if (add_bos && bos) impl->config_prefix.push_back(*bos);
      if (add_eos && eos) impl->config_suffix.push_back(*eos);
    }
  }
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  return Encode(text, options);
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  const Impl& impl = *impl_;
  std::string repaired;
  bool parse_special = options.parse_special_tokens;
  std::span<const std::pair<size_t, size_t>> plain_ranges = options.plain_ranges;
  if (!tokenizer::IsValidUtf8(text)) {
    repaired = tokenizer::ToValidUtf8(text);
    text = repaired;
    if (!plain_ranges.empty()) {
      parse_special = false;
      plain_ranges = {};
    }
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 4 + 4);
  std::vector<AddedVocabulary::Piece> pieces;
  impl.added.Split(text, parse_special, &pieces, plain_ranges);
  const PreTokenizer::Sink sink = [&](std::string_view piece, bool byte_mapped) {
    impl.model.Tokenize(piece, byte_mapped, &ids);
  };
  for (const AddedVocabulary::Piece& piece : pieces) {
    if (piece.id >= 0) {
      ids.push_back(piece.id);
    } else {
      impl.pre_tokenizer.Run(piece.text, sink);
    }
  }
  if (!options.add_special_tokens) return ids;
  if (!impl.has_post_processor) {
    ids.insert(ids.begin(), impl.config_prefix.begin(), impl.config_prefix.end());
    ids.insert(ids.end(), impl.config_suffix.begin(), impl.config_suffix.end());
    return ids;
  }
  for (const Template& t : impl.templates) {
    std::vector<int32_t> processed;
    processed.reserve(ids.size() + 4);
    for (const TemplateItem& item : t) {
      const std::vector<int32_t>& source = item.is_sequence ? ids : item.ids;
      processed.insert(processed.end(), source.begin(), source.end());
    }
    ids = std::move(processed);
  }
  return ids;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  const Impl& impl = *impl_;
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) {
    if (!impl.Valid(id) || (skip_special_tokens && impl.Special(id))) continue;
    if (impl.decoder == DecoderKind::kJoinWithSpaces && !first) bytes += ' ';
    bytes += impl.token_bytes[id];
    first = false;
  }
  if (impl.decoder != DecoderKind::kByteLevel) return bytes;  // token strings are valid UTF-8
  return tokenizer::ToValidUtf8(bytes);
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->token_flags.size()); }
bool Tokenizer::IsValidId(int32_t id) const { return impl_->Valid(id); }
bool Tokenizer::IsSpecial(int32_t id) const { return impl_->Special(id); }

std::vector<std::pair<size_t, size_t>> Tokenizer::FindSpecialTokens(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> spans;
  if (!tokenizer::IsValidUtf8(text)) return spans;
  std::vector<AddedVocabulary::Piece> pieces;
  impl_->added.Split(text, /*parse_special=*/true, &pieces);
  for (const AddedVocabulary::Piece& piece : pieces) {
    if (piece.id < 0 || !impl_->Special(piece.id)) continue;
    const size_t begin = static_cast<size_t>(piece.text.data() - text.data());
    spans.emplace_back(begin, begin + piece.text.size());
  }
  return spans;
}

std::string_view Tokenizer::TokenText(int32_t id) const {
  return impl_->Valid(id) ? std::string_view(impl_->token_text[id]) : std::string_view();
}

std::string_view Tokenizer::TokenBytes(int32_t id) const {
  return impl_->Valid(id) ? std::string_view(impl_->token_bytes[id]) : std::string_view();
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  if (auto id = impl_->added.FindByContent(token)) return id;
  return impl_->model.TokenToId(token);
}

std::optional<int32_t> Tokenizer::bos_id() const { return impl_->bos; }
std::optional<int32_t> Tokenizer::eos_id() const { return impl_->eos; }
std::optional<int32_t> Tokenizer::pad_id() const { return impl_->pad; }

bool Tokenizer::adds_special_tokens() const {
  if (!impl_->has_post_processor)
    return !impl_->config_prefix.empty() || !impl_->config_suffix.empty();
  for (const Template& t : impl_->templates) {
    for (const TemplateItem& item : t) {
      if (!item.is_sequence && !item.ids.empty()) return true;
    }
  }
  return false;
}

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string StreamingDecoder::Add(int32_t id) {
  const Tokenizer::Impl& impl = *tokenizer_->impl_;
  std::string out;
  if (!impl.Valid(id) || (skip_special_tokens_ && impl.Special(id))) return out;
  if (impl.decoder != DecoderKind::kByteLevel) {
    if (impl.decoder == DecoderKind::kJoinWithSpaces && !first_) out += ' ';
    out += impl.token_bytes[id];
    first_ = false;
    return out;
  }
  first_ = false;
  pending_ += impl.token_bytes[id];
  const size_t consumed = tokenizer::AppendUtf8LossyPrefix(pending_, &out);
  pending_.erase(0, consumed);
  return out;
}

std::string StreamingDecoder::Finish() {
  std::string out;
  tokenizer::AppendUtf8Lossy(pending_, &out);
  Reset();
  return out;
}

void StreamingDecoder::Reset() {
  pending_.clear();
  first_ = true;
}

}  // namespace lfm2
