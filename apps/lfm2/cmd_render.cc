// apps/lfm2/cmd_render.cc - `lfm2 render`: prints the exact prompt the model's chat template
// makes of a conversation (what HF apply_chat_template(tokenize=False) returns), no newline added.
// Needs only the tokenizer files of the model directory.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "apps/lfm2/command.h"
#include "io/json.h"
#include "jinja/chat_template.h"

namespace lfm2::cli {
namespace {

StatusOr<Json> ReadJsonArgument(const std::string& path, const char* what) {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return ParseJson(text, StrCat(what, " (stdin)"));
  }
  return ReadJsonFile(path);
}

int RunRender(int argc, char** argv) {
  std::string model_dir;
  std::string messages_path;
  std::string tools_path;
  bool no_generation_prompt = false;
  FlagParser flags(
      "lfm2 render --model DIR --messages FILE.json [--tools FILE.json] [--no-generation-prompt]",
      "Renders a conversation with the model's chat template (chat_template.jinja, or the\n"
      "chat_template key of tokenizer_config.json) and prints the prompt exactly, without a\n"
      "trailing newline. FILE.json is a JSON array of messages, or an object with \"messages\"\n"
      "(and optionally \"tools\"); '-' reads standard input.");
  flags.String("--model,-m", &model_dir, "DIR", "model directory (tokenizer files suffice)");
  flags.String("--messages", &messages_path, "FILE", "conversation JSON ('-' for stdin)");
  flags.String("--tools", &tools_path, "FILE", "JSON array of tool definitions");
  flags.Bool("--no-generation-prompt", &no_generation_prompt,
             "do not append the assistant turn opener (add_generation_prompt=false)");
  flags.Require("--model");
  flags.Require("--messages");
  int exit_code = kExitOk;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;

  StatusOr<ChatTemplate> chat = ChatTemplate::Load(model_dir);
  if (!chat.ok()) return ReportError(chat.status());
  StatusOr<Json> input = ReadJsonArgument(messages_path, "messages");
  if (!input.ok()) return ReportError(input.status());
  Json messages = *input;
  Json tools = nullptr;
  if (input->is_object()) {
    const Json* found = FindMember(*input, "messages");
    if (found == nullptr) {
      return ReportError(InvalidArgumentError(messages_path, ": object has no \"messages\" key"));
    }
    messages = *found;
    if (const Json* embedded_tools = FindMember(*input, "tools")) tools = *embedded_tools;
  }
  if (!messages.is_array()) {
    return ReportError(InvalidArgumentError(messages_path, ": messages must be a JSON array, got ",
                                            JsonTypeName(messages)));
  }
  if (!tools_path.empty()) {
    StatusOr<Json> loaded = ReadJsonArgument(tools_path, "tools");
    if (!loaded.ok()) return ReportError(loaded.status());
    tools = *loaded;
    if (tools.is_object() && FindMember(tools, "tools") != nullptr) tools = tools["tools"];
  }
  if (!tools.is_null() && !tools.is_array()) {
    return ReportError(InvalidArgumentError("tools must be a JSON array, got ", JsonTypeName(tools)));
  }
  StatusOr<std::string> prompt = chat->Render(messages, tools, !no_generation_prompt);
  if (!prompt.ok()) return ReportError(prompt.status());
  if (std::fwrite(prompt->data(), 1, prompt->size(), stdout) != prompt->size() ||
      std::fflush(stdout) != 0) {
    return ReportError(IoError("writing the prompt to stdout failed"));
  }
  return kExitOk;
}

}  // namespace

LFM2_REGISTER_COMMAND("render", "print the chat-template prompt of a conversation", RunRender);

}  // namespace lfm2::cli
