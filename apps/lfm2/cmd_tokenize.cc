// apps/lfm2/cmd_tokenize.cc - `lfm2 tokenize` (text -> ids) and `lfm2 detokenize` (ids -> text):
// thin front ends over tokenizer/tokenizer.h. They need only tokenizer.json (and optionally
// tokenizer_config.json) in the model directory: no config.json, no weights.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "apps/lfm2/command.h"
#include "io/json.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_util.h"

namespace lfm2::cli {
namespace {

constexpr char kTokenizeUsage[] =
    "lfm2 tokenize --model DIR (--text TEXT | --text - | --file PATH) [--no-bos] [--pieces]";
constexpr char kDetokenizeUsage[] = "lfm2 detokenize --model DIR --ids IDS [--skip-special]";

int UsageError(const char* command, const char* usage, const std::string& problem) {
  std::fprintf(stderr, "lfm2 %s: %s\nusage: %s\nRun with --help for all options.\n", command,
               problem.c_str(), usage);
  return kExitUsage;
}

std::string ReadStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

int RunTokenize(int argc, char** argv) {
  std::string model;
  std::optional<std::string> text, file;
  bool no_bos = false, pieces = false, literal_special = false;
  FlagParser flags(
      kTokenizeUsage,
      "Encodes text exactly as Hugging Face tokenizers does (tokenizer.json) and prints the token\n"
      "ids as one JSON array on one line, e.g. [1,52572,2031]. With --pieces it prints instead an\n"
      "array of objects, one per token: {\"id\":2031,\"piece\":\"Ġworld\",\"text\":\" world\"} "
      "where\n"
      "piece is the vocabulary string and text the bytes the token decodes to (a partial UTF-8\n"
      "sequence shows as U+FFFD). Special-token text such as <|im_start|> in the input is\n"
      "recognised unless --literal-special is given. Use --text=TEXT for text starting with '-'.");
  flags.String("--model,-m", &model, "DIR", "model directory containing tokenizer.json");
  flags.OptionalString("--text", &text, "TEXT", "the text to encode; \"-\" reads standard input");
  flags.OptionalString("--file,-f", &file, "PATH", "read the text to encode from a file");
  flags.Bool("--no-bos", &no_bos, "do not add special tokens (no <|startoftext|>)");
  flags.Bool("--pieces", &pieces, "print {id, piece, text} objects instead of bare ids");
  flags.Bool("--literal-special", &literal_special,
             "tokenize special-token text in the input as plain text");
  flags.Require("--model");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (text.has_value() == file.has_value()) {
    return UsageError("tokenize", kTokenizeUsage, "give exactly one of --text and --file");
  }

  auto tokenizer = Tokenizer::FromDirectory(model);
  if (!tokenizer.ok()) return ReportError(tokenizer.status());
  std::string input;
  if (file) {
    auto contents = ReadFileToString(*file);
    if (!contents.ok()) return ReportError(contents.status());
    input = std::move(contents).value();
  } else {
    input = *text == "-" ? ReadStdin() : *text;
  }

  EncodeOptions options;
  options.add_special_tokens = !no_bos;
  options.parse_special_tokens = !literal_special;
  const std::vector<int32_t> ids = tokenizer->Encode(input, options);
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    if (pieces) {
      Json item = Json::object();
      item["id"] = ids[i];
      item["piece"] = std::string(tokenizer->TokenText(ids[i]));
      item["text"] = tokenizer::ToValidUtf8(tokenizer->TokenBytes(ids[i]));
      out += DumpJson(item);
    } else {
      out += std::to_string(ids[i]);
    }
  }
  out += "]\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

int RunDetokenize(int argc, char** argv) {
  std::string model, ids_text;
  bool skip_special = false;
  FlagParser flags(
      kDetokenizeUsage,
      "Decodes token ids exactly as Hugging Face tokenizers' decode(ids, skip_special_tokens) and\n"
      "prints the text with no added newline. IDS is \"1,2,3\", a JSON array \"[1, 2, 3]\", or "
      "\"-\"\n"
      "to read either form from standard input. An id that is not a token is an error (exit 1).");
  flags.String("--model,-m", &model, "DIR", "model directory containing tokenizer.json");
  flags.String("--ids", &ids_text, "IDS", "the token ids");
  flags.Bool("--skip-special", &skip_special, "leave special tokens (<|im_end|>, ...) out");
  flags.Require("--model");
  flags.Require("--ids");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (ids_text == "-") ids_text = ReadStdin();
  auto ids = ParseIdList(ids_text);
  if (!ids.ok()) return UsageError("detokenize", kDetokenizeUsage, ids.status().message());

  auto tokenizer = Tokenizer::FromDirectory(model);
  if (!tokenizer.ok()) return ReportError(tokenizer.status());
  for (int32_t id : *ids) {
    if (!tokenizer->IsValidId(id)) {
      return ReportError(OutOfRangeError("token id ", id, " is not in the vocabulary (ids 0..",
                                         tokenizer->vocab_size() - 1, ")"));
    }
  }
  const std::string text = tokenizer->Decode(*ids, skip_special);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitError;
}

}  // namespace

LFM2_REGISTER_COMMAND("tokenize", "encode text to token ids (tokenizer.json, exact HF)",
                      RunTokenize);
LFM2_REGISTER_COMMAND("detokenize", "decode token ids to text", RunDetokenize);

}  // namespace lfm2::cli
