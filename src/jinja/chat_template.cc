// jinja/chat_template.cc - loading a model's chat template and rendering conversations.
#include "jinja/chat_template.h"

#include <filesystem>
#include <system_error>

namespace lfm2 {
namespace {

namespace fs = std::filesystem;

StatusOr<std::optional<std::string>> TokenText(const Json& config, const char* key) {
  const Json* token = FindMember(config, key);
  if (token == nullptr || token->is_null()) return std::optional<std::string>();
  if (token->is_string()) return std::optional<std::string>(token->get<std::string>());
  if (token->is_object()) {
    const Json* content = FindMember(*token, "content");
    if (content != nullptr && content->is_string()) {
      return std::optional<std::string>(content->get<std::string>());
    }
  }
  return InvalidArgumentError("tokenizer_config.json: \"", key,
                              "\" must be a string or an object with a \"content\" string, got ",
                              JsonTypeName(*token));
}

// HF's chat_template forms: a string, or a list of {"name", "template"} (use "default").
StatusOr<std::string> TemplateFromConfig(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string names;
    for (const Json& entry : value) {
      const Json* name = entry.is_object() ? FindMember(entry, "name") : nullptr;
      const Json* text = entry.is_object() ? FindMember(entry, "template") : nullptr;
      if (name == nullptr || text == nullptr || !name->is_string() || !text->is_string()) {
        return InvalidArgumentError(
            "tokenizer_config.json: \"chat_template\" list entries need string \"name\" and "
            "\"template\"");
      }
      if (name->get<std::string>() == "default") return text->get<std::string>();
      names += (names.empty() ? "" : ", ") + name->get<std::string>();
    }
    return NotFoundError("tokenizer_config.json: \"chat_template\" has no \"default\" entry (has: ",
                         names, ")");
  }
  return InvalidArgumentError("tokenizer_config.json: \"chat_template\" must be a string or a list, got ",
                              JsonTypeName(value));
}

}  // namespace

StatusOr<ChatSpecialTokens> SpecialTokensFromConfig(const Json& config) {
  ChatSpecialTokens tokens;
  if (!config.is_object()) return tokens;
  LFM2_ASSIGN_OR_RETURN(tokens.bos_token, TokenText(config, "bos_token"));
  LFM2_ASSIGN_OR_RETURN(tokens.eos_token, TokenText(config, "eos_token"));
  LFM2_ASSIGN_OR_RETURN(tokens.pad_token, TokenText(config, "pad_token"));
  LFM2_ASSIGN_OR_RETURN(tokens.unk_token, TokenText(config, "unk_token"));
  return tokens;
}

StatusOr<ChatTemplate> ChatTemplate::Load(const std::string& model_dir) {
  std::error_code error;
  if (!fs::is_directory(model_dir, error)) {
    return NotFoundError("model directory '", model_dir, "' does not exist");
  }
  const fs::path dir(model_dir);
  const fs::path config_path = dir / "tokenizer_config.json";
  const fs::path template_path = dir / "chat_template.jinja";
  Json config = Json::object();
  const bool has_config = fs::is_regular_file(config_path, error);
  if (has_config) {
    LFM2_ASSIGN_OR_RETURN(config, ReadJsonFile(config_path.string()));
  }
  LFM2_ASSIGN_OR_RETURN(ChatSpecialTokens tokens, SpecialTokensFromConfig(config));
  if (fs::is_regular_file(template_path, error)) {
    LFM2_ASSIGN_OR_RETURN(std::string source, ReadFileToString(template_path.string()));
    return FromSource(source, "chat_template.jinja", std::move(tokens));
  }
  const Json* embedded = has_config ? FindMember(config, "chat_template") : nullptr;
  if (embedded == nullptr || embedded->is_null()) {
    return NotFoundError("no chat template in '", model_dir,
                         "': expected chat_template.jinja or a \"chat_template\" key in "
                         "tokenizer_config.json");
  }
  LFM2_ASSIGN_OR_RETURN(std::string source, TemplateFromConfig(*embedded));
  return FromSource(source, "tokenizer_config.json:chat_template", std::move(tokens));
}

StatusOr<ChatTemplate> ChatTemplate::FromSource(std::string_view source, std::string name,
                                                ChatSpecialTokens tokens) {
  LFM2_ASSIGN_OR_RETURN(jinja::Template parsed, jinja::Template::Parse(source, name));
  return ChatTemplate(std::move(parsed), std::move(name), std::move(tokens));
}

StatusOr<std::string> ChatTemplate::Render(const Json& messages, const Json& tools,
                                           bool add_generation_prompt, const Json& extra,
                                           const jinja::RenderOptions& options) const {
  if (!messages.is_array()) {
    return InvalidArgumentError("messages must be a JSON array, got ", JsonTypeName(messages));
  }
  if (!tools.is_null() && !tools.is_array()) {
    return InvalidArgumentError("tools must be a JSON array or null, got ", JsonTypeName(tools));
  }
  if (!extra.is_object()) {
    return InvalidArgumentError("extra template variables must be a JSON object, got ",
                                JsonTypeName(extra));
  }
  std::vector<std::pair<std::string, jinja::Value>> variables;
  LFM2_ASSIGN_OR_RETURN(jinja::Value messages_value, jinja::ValueFromJson(messages));
  LFM2_ASSIGN_OR_RETURN(jinja::Value tools_value, jinja::ValueFromJson(tools));
  variables.emplace_back("messages", std::move(messages_value));
  variables.emplace_back("tools", std::move(tools_value));
  variables.emplace_back("documents", jinja::Value::None());
  variables.emplace_back("add_generation_prompt", jinja::Value::Bool(add_generation_prompt));
  auto add_token = [&](const char* key, const std::optional<std::string>& token) {
    if (token) variables.emplace_back(key, jinja::Value::String(*token));
  };
  add_token("bos_token", tokens_.bos_token);
  add_token("eos_token", tokens_.eos_token);
  add_token("pad_token", tokens_.pad_token);
  add_token("unk_token", tokens_.unk_token);
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    LFM2_ASSIGN_OR_RETURN(jinja::Value value, jinja::ValueFromJson(it.value()));
    variables.emplace_back(it.key(), std::move(value));
  }
  return template_.Render(variables, options);
}

}  // namespace lfm2
