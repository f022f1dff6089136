// server/openai_request.cc - validating OpenAI request bodies.
#include "server/openai_request.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

namespace lfm2::server {
namespace {

std::string TypeError(const std::string& param, const char* expected, const Json& got) {
  return "'" + param + "' must be " + expected + ", got " + JsonTypeName(got);
}

// Reads optional fields of one JSON object; the first error is kept.
class Fields {
 public:
  explicit Fields(const Json& object) : object_(object) {}

  // The member, or nullptr when missing or null.
  const Json* Get(const char* key) const {
    const Json* value = FindMember(object_, key);
    return value == nullptr || value->is_null() ? nullptr : value;
  }
  bool Number(const char* key, std::optional<double>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return true;
    if (!v->is_number()) return Fail(TypeError(key, "a number", *v), key);
    const double x = v->get<double>();
    if (!std::isfinite(x)) return Fail(std::string("'") + key + "' must be finite", key);
    *out = x;
    return true;
  }
  bool Integer(const char* key, std::optional<int64_t>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return true;
    if (v->is_number_integer()) {
      if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return Fail(std::string("'") + key + "' is too large", key);
      }
      *out = v->get<int64_t>();
      return true;
    }
    // 3.0 is accepted as 3 (JavaScript clients have no integer type).
    if (v->is_number_float()) {
      const double x = v->get<double>();
      if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9.0e15) {
        *out = static_cast<int64_t>(x);
        return true;
      }
    }
    return Fail(TypeError(key, "an integer", *v), key);
  }
  bool Bool(const char* key, bool* out) {
    const Json* v = Get(key);
    if (v == nullptr) return true;
    if (!v->is_boolean()) return Fail(TypeError(key, "a boolean", *v), key);
    *out = v->get<bool>();
    return true;
  }
  bool String(const char* key, std::string* out) {
    const Json* v = Get(key);
    if (v == nullptr) return true;
    if (!v->is_string()) return Fail(TypeError(key, "a string", *v), key);
    *out = v->get<std::string>();
    return true;
  }
  bool Fail(std::string message, std::string param) {
    if (!error_) error_ = BadRequest(std::move(message), std::move(param));
    return false;
  }
  bool Check(bool condition, std::string message, std::string param) {
    return condition || Fail(std::move(message), std::move(param));
  }
  std::optional<ApiError>& error() { return error_; }

 private:
  const Json& object_;
  std::optional<ApiError> error_;
};

bool ParseSampling(Fields& f, const RequestLimits& limits, SamplingOverrides* s) {
  if (!f.Number("temperature", &s->temperature) || !f.Number("top_p", &s->top_p) ||
      !f.Number("min_p", &s->min_p) || !f.Number("repetition_penalty", &s->repetition_penalty) ||
      !f.Number("presence_penalty", &s->presence_penalty) ||
      !f.Number("frequency_penalty", &s->frequency_penalty) || !f.Integer("top_k", &s->top_k) ||
      !f.Integer("seed", &s->seed)) {
    return false;
  }
  if (s->temperature && !f.Check(*s->temperature >= 0, "'temperature' must be >= 0", "temperature")) return false;
  if (s->top_p && !f.Check(*s->top_p > 0 && *s->top_p <= 1, "'top_p' must be in (0, 1]", "top_p")) return false;
  if (s->min_p && !f.Check(*s->min_p >= 0 && *s->min_p <= 1, "'min_p' must be in [0, 1]", "min_p")) return false;
  if (s->top_k && !f.Check(*s->top_k >= 0, "'top_k' must be >= 0 (0 = off)", "top_k")) return false;
  if (s->repetition_penalty &&
      !f.Check(*s->repetition_penalty > 0, "'repetition_penalty' must be > 0 (1 = off)", "repetition_penalty")) {
    return false;
  }
  if (const Json* bias = f.Get("logit_bias")) {
    if (!bias->is_object()) return f.Fail(TypeError("logit_bias", "an object", *bias), "logit_bias");
    for (const auto& [key, value] : bias->items()) {
      char* end = nullptr;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || id < 0 || id >= limits.vocab_size) {
        return f.Fail("logit_bias key \"" + key + "\" is not a token id in [0, " +
                          std::to_string(limits.vocab_size) + ")", "logit_bias");
      }
      // Stored as a float: beyond its range the bias would be infinite.
      if (!value.is_number() || !std::isfinite(static_cast<float>(value.get<double>()))) {
        return f.Fail("logit_bias[\"" + key + "\"] must be a finite number (|bias| < 3.4e38)", "logit_bias");
      }
      s->logit_bias.emplace_back(static_cast<int32_t>(id), value.get<float>());
    }
  }
  return true;
}

bool ParseCommon(Fields& f, const Json& body, const RequestLimits& limits, GenerationRequest* r) {
  if (!f.String("model", &r->model) || !f.Bool("stream", &r->stream)) return false;
  if (const Json* options = f.Get("stream_options")) {
    if (!options->is_object()) return f.Fail(TypeError("stream_options", "an object", *options), "stream_options");
    Fields o(*options);
    if (!o.Bool("include_usage", &r->include_usage)) {
      return f.Fail(o.error()->message, "stream_options.include_usage");
    }
  }
  std::optional<int64_t> n, max_tokens, max_completion_tokens;
  if (!f.Integer("n", &n) || !f.Check(!n || *n == 1, "only n = 1 is supported", "n")) return false;
  if (!f.Integer("max_tokens", &max_tokens) || !f.Integer("max_completion_tokens", &max_completion_tokens)) {
    return false;
  }
  if (max_tokens && !f.Check(*max_tokens >= 1, "'max_tokens' must be >= 1", "max_tokens")) return false;
  if (max_completion_tokens &&
      !f.Check(*max_completion_tokens >= 1, "'max_completion_tokens' must be >= 1", "max_completion_tokens")) {
    return false;
  }
  r->max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
  if (!ParseSampling(f, limits, &r->sampling)) return false;

  if (const Json* stop = f.Get("stop")) {
    if (stop->is_string()) {
      r->stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (!f.Check(stop->size() <= limits.max_stop, "at most " + std::to_string(limits.max_stop) + " stop strings", "stop")) {
        return false;
      }
      for (const Json& s : *stop) {
        if (!s.is_string()) return f.Fail("'stop' must be a string or an array of strings", "stop");
        r->stop.push_back(s.get<std::string>());
      }
    } else {
      return f.Fail(TypeError("stop", "a string or an array of strings", *stop), "stop");
    }
    for (const std::string& s : r->stop) {
      if (!f.Check(s.size() <= limits.max_stop_bytes,
                   "stop strings are limited to " + std::to_string(limits.max_stop_bytes) + " bytes", "stop")) {
        return false;
      }
    }
  }

  if (const Json* format = f.Get("response_format")) {
    if (!format->is_object()) return f.Fail(TypeError("response_format", "an object", *format), "response_format");
    Fields rf(*format);
    std::string type = "text";
    if (!rf.String("type", &type)) return f.Fail(rf.error()->message, "response_format.type");
    if (type == "text") {
      r->response_format.type = ResponseFormatType::kText;
    } else if (type == "json_object") {
      r->response_format.type = ResponseFormatType::kJsonObject;
    } else if (type == "json_schema") {
      r->response_format.type = ResponseFormatType::kJsonSchema;
      const Json* spec = rf.Get("json_schema");
      if (spec == nullptr || !spec->is_object()) {
        return f.Fail("response_format.json_schema must be an object with a 'schema'", "response_format.json_schema");
      }
      Fields js(*spec);
      if (!js.String("name", &r->response_format.name)) return f.Fail(js.error()->message, "response_format.json_schema.name");
      const Json* schema = js.Get("schema");
      if (schema == nullptr) {
        r->response_format.schema = Json::object();  // OpenAI: a missing schema allows any JSON
      } else if (schema->is_object() || schema->is_boolean()) {
        r->response_format.schema = *schema;
      } else {
        return f.Fail(TypeError("response_format.json_schema.schema", "an object", *schema),
                      "response_format.json_schema.schema");
      }
    } else {
      return f.Fail("response_format.type must be text, json_object or json_schema, got \"" + type + "\"",
                    "response_format.type");
    }
  }
  (void)body;
  return true;
}

// Message content -> one string: a string, null, or an array of {"type":"text","text":...}.
bool ContentText(Fields& f, const Json* content, const std::string& param, std::string* out) {
  out->clear();
  if (content == nullptr) return true;
  if (content->is_string()) {
    *out = content->get<std::string>();
    return true;
  }
  if (!content->is_array()) return f.Fail(TypeError(param, "a string or an array of content parts", *content), param);
  bool first = true;
  for (const Json& part : *content) {
    if (!part.is_object()) return f.Fail(param + ": content parts must be objects", param);
    const Json* type = FindMember(part, "type");
    const Json* text = FindMember(part, "text");
    if (type == nullptr || !type->is_string()) return f.Fail(param + ": a content part needs a 'type'", param);
    if (*type != "text") {
      return f.Fail(param + ": content part type \"" + type->get<std::string>() +
                        "\" is not supported (this model reads text only)", param);
    }
    if (text == nullptr || !text->is_string()) return f.Fail(param + ": a text part needs a string 'text'", param);
    if (!first) *out += "\n";
    *out += text->get<std::string>();
    first = false;
  }
  return true;
}

bool ParseMessagesInto(Fields& f, const RequestLimits& limits, ChatRequest* r) {
  const Json* messages = f.Get("messages");
  if (messages == nullptr) return f.Fail("'messages' is required", "messages");
  if (!messages->is_array()) return f.Fail(TypeError("messages", "an array", *messages), "messages");
  if (messages->empty()) return f.Fail("'messages' must not be empty", "messages");
  r->messages = Json::array();
  r->tool_calls.clear();
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& message = (*messages)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) return f.Fail(where + " must be an object", where);
    Fields m(message);
    std::string role;
    if (!m.String("role", &role)) return f.Fail(m.error()->message, where + ".role");
    if (role.empty()) return f.Fail(where + ".role is required", where + ".role");
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      return f.Fail(where + ".role must be system, developer, user, assistant or tool, got \"" + role + "\"",
                    where + ".role");
    }
    std::string content, written;
    if (!ContentText(f, m.Get("content"), where + ".content", &content)) return false;
    if (const Json* calls = m.Get("tool_calls"); calls != nullptr && role == "assistant") {
      if (!calls->is_array()) return f.Fail(TypeError(where + ".tool_calls", "an array", *calls), where + ".tool_calls");
      for (size_t c = 0; c < calls->size(); ++c) {
        const Json& call = (*calls)[c];
        const std::string param = where + ".tool_calls[" + std::to_string(c) + "]";
        const Json* function = call.is_object() ? FindMember(call, "function") : nullptr;
        if (function == nullptr || !function->is_object()) return f.Fail(param + " needs a 'function' object", param);
        const Json* name = FindMember(*function, "name");
        const Json* arguments = FindMember(*function, "arguments");
        if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
          return f.Fail(param + ".function.name must be a non-empty string", param);
        }
        Json args = Json::object();
        if (arguments != nullptr && arguments->is_string()) {
          auto parsed = ParseJson(arguments->get<std::string>(), param + ".function.arguments", limits.json);
          if (!parsed.ok() && parsed.status().code() == StatusCode::kResourceExhausted) {
            ApiError error = BadRequest(parsed.status().message(), param + ".function.arguments");
            error.status = 413;
            if (!f.error()) f.error() = error;
            return false;
          }
          if (!parsed.ok() && parsed.status().code() == StatusCode::kOutOfRange) {
            return f.Fail(parsed.status().message() + " (the server's --max-json-depth)",
                          param + ".function.arguments");
          }
          if (!parsed.ok() || !parsed->is_object()) {
            return f.Fail(param + ".function.arguments must be a JSON object encoded as a string", param);
          }
          args = std::move(parsed).value();
        } else if (arguments != nullptr && arguments->is_object()) {
          args = *arguments;
        } else if (arguments != nullptr && !arguments->is_null()) {
          return f.Fail(param + ".function.arguments must be a string", param);
        }
        written += (c > 0 ? ", " : "") + PythonCall(name->get<std::string>(), args);
      }
    }
    r->messages.push_back({{"role", role}, {"content", content}});
    r->tool_calls.push_back(std::move(written));
  }
  if (const Json* tools = f.Get("tools")) {
    if (!tools->is_array()) return f.Fail(TypeError("tools", "an array", *tools), "tools");
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& tool = (*tools)[i];
      const std::string where = "tools[" + std::to_string(i) + "]";
      const Json* function = tool.is_object() ? FindMember(tool, "function") : nullptr;
      const Json* type = tool.is_object() ? FindMember(tool, "type") : nullptr;
      if (type != nullptr && (!type->is_string() || *type != "function")) {
        return f.Fail(where + ".type must be \"function\"", where + ".type");
      }
      if (function == nullptr || !function->is_object()) return f.Fail(where + " needs a 'function' object", where);
      const Json* name = FindMember(*function, "name");
      if (name == nullptr || !name->is_string() || name->get<std::string>().empty()) {
        return f.Fail(where + ".function.name must be a non-empty string", where + ".function.name");
      }
      const Json* parameters = FindMember(*function, "parameters");
      if (parameters != nullptr && !parameters->is_object() && !parameters->is_null()) {
        return f.Fail(where + ".function.parameters must be an object", where + ".function.parameters");
      }
      r->tool_names.push_back(name->get<std::string>());
    }
    // Taken from the body by the caller once everything is valid (no copy: tools can be large).
    r->tools = tools->empty() ? Json() : Json(Json::value_t::discarded);
  }
  if (const Json* choice = f.Get("tool_choice")) {
    using Mode = ToolChoice::Mode;
    if (choice->is_string()) {
      const std::string value = choice->get<std::string>();
      if (value == "auto") r->tool_choice.mode = Mode::kAuto;
      else if (value == "none") r->tool_choice.mode = Mode::kNone;
      else if (value == "required") r->tool_choice.mode = Mode::kRequired;
      else return f.Fail("tool_choice must be none, auto, required or a function object", "tool_choice");
    } else if (choice->is_object()) {
      const Json* function = FindMember(*choice, "function");
      const Json* name = function != nullptr && function->is_object() ? FindMember(*function, "name") : nullptr;
      if (name == nullptr || !name->is_string()) {
        return f.Fail("tool_choice must be {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
      }
      r->tool_choice.mode = Mode::kFunction;
      r->tool_choice.function = name->get<std::string>();
      // The name starts the forced reply as template text: an identifier, nothing else.
      const std::string& forced = r->tool_choice.function;
      if (forced.empty() || forced.size() > 256 ||
          !std::all_of(forced.begin(), forced.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':';
          })) {
        return f.Fail("tool_choice function name must be 1-256 letters, digits, '_', '-', '.' or ':'",
                      "tool_choice");
      }
      if (std::find(r->tool_names.begin(), r->tool_names.end(), r->tool_choice.function) == r->tool_names.end()) {
        return f.Fail("tool_choice names \"" + r->tool_choice.function + "\", which is not in 'tools'", "tool_choice");
      }
    } else {
      return f.Fail(TypeError("tool_choice", "a string or an object", *choice), "tool_choice");
    }
    if ((r->tool_choice.mode == Mode::kRequired) && r->tool_names.empty()) {
      return f.Fail("tool_choice \"required\" needs 'tools'", "tool_choice");
    }
  }
  return true;
}

void AppendPythonString(const std::string& s, std::string* out) {
  *out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
          *out += escaped;
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
  *out += '"';
}

void AppendPython(const Json& value, std::string* out) {
  switch (value.type()) {
    case Json::value_t::null: *out += "None"; break;
    case Json::value_t::boolean: *out += value.get<bool>() ? "True" : "False"; break;
    case Json::value_t::string: AppendPythonString(value.get<std::string>(), out); break;
    case Json::value_t::array: {
      *out += '[';
      bool first = true;
      for (const Json& item : value) {
        if (!first) *out += ", ";
        AppendPython(item, out);
        first = false;
      }
      *out += ']';
      break;
    }
    case Json::value_t::object: {
      *out += '{';
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) *out += ", ";
        AppendPythonString(key, out);
        *out += ": ";
        AppendPython(item, out);
        first = false;
      }
      *out += '}';
      break;
    }
    default: *out += DumpJson(value); break;  // numbers
  }
}

}  // namespace

std::string ErrorBody(const ApiError& error) {
  Json body = {{"message", error.message},
               {"type", error.type},
               {"param", error.param.empty() ? Json() : Json(error.param)},
               {"code", error.code.empty() ? Json() : Json(error.code)}};
  return DumpJson(Json{{"error", body}});
}

ApiError BadRequest(std::string message, std::string param) {
  ApiError error;
  error.status = 400;
  error.message = std::move(message);
  error.param = std::move(param);
  return error;
}

SamplingParams ApplyOverrides(const SamplingParams& defaults, const SamplingOverrides& o,
                              uint64_t fallback_seed) {
  SamplingParams p = defaults;
  if (o.temperature) p.temperature = *o.temperature;
  if (o.top_p) p.top_p = *o.top_p;
  if (o.min_p) p.min_p = *o.min_p;
  if (o.top_k) p.top_k = *o.top_k;
  if (o.repetition_penalty) p.repetition_penalty = *o.repetition_penalty;
  if (o.presence_penalty) p.presence_penalty = *o.presence_penalty;
  if (o.frequency_penalty) p.frequency_penalty = *o.frequency_penalty;
  p.logit_bias = o.logit_bias;
  p.seed = o.seed ? static_cast<uint64_t>(*o.seed) : fallback_seed;
  return p;
}

std::string PythonLiteral(const Json& value) {
  std::string out;
  AppendPython(value, &out);
  return out;
}

std::string PythonCall(const std::string& name, const Json& arguments) {
  std::string out = name + "(";
  bool first = true;
  for (const auto& [key, value] : arguments.items()) {
    if (!first) out += ", ";
    out += key + "=";
    AppendPython(value, &out);
    first = false;
  }
  return out + ")";
}

namespace {
// Moves the validated tools array out of the body (see ParseMessagesInto).
void TakeTools(Json& body, ChatRequest* out) {
  if (out->tools.is_discarded()) out->tools = std::move(body["tools"]);
}
}  // namespace

std::optional<ApiError> ParseChatRequest(Json body, const RequestLimits& limits, ChatRequest* out) {
  if (!body.is_object()) return BadRequest("the request body must be a JSON object");
  Fields f(body);
  if (!ParseCommon(f, body, limits, out) || !ParseMessagesInto(f, limits, out)) return f.error();
  TakeTools(body, out);
  std::optional<int64_t> top_logprobs;
  if (!f.Bool("logprobs", &out->logprobs) || !f.Integer("top_logprobs", &top_logprobs)) return f.error();
  if (top_logprobs) {
    if (*top_logprobs < 0 || *top_logprobs > limits.max_top_logprobs) {
      return BadRequest("'top_logprobs' must be in [0, " + std::to_string(limits.max_top_logprobs) + "]",
                        "top_logprobs");
    }
    if (!out->logprobs) return BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
    out->top_logprobs = static_cast<int>(*top_logprobs);
  }
  return std::nullopt;
}

std::optional<ApiError> ParseMessages(Json body, const RequestLimits& limits, ChatRequest* out) {
  if (!body.is_object()) return BadRequest("the request body must be a JSON object");
  Fields f(body);
  if (!ParseMessagesInto(f, limits, out)) return f.error();
  TakeTools(body, out);
  return std::nullopt;
}

Json TemplateMessages(const ChatRequest& request, const TextFilter& protect) {
  auto text = [&](const std::string& s) { return protect ? protect(s) : s; };
  Json messages = Json::array();
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const Json& message = request.messages[i];
    std::string content = text(message["content"].get_ref<const std::string&>());
    if (i < request.tool_calls.size() && !request.tool_calls[i].empty()) {
      content += "<|tool_call_start|>[" + text(request.tool_calls[i]) + "]<|tool_call_end|>";
    }
    messages.push_back({{"role", message["role"]}, {"content", std::move(content)}});
  }
  return messages;
}

std::optional<ApiError> ParseCompletionRequest(const Json& body, const RequestLimits& limits,
                                               CompletionRequest* out) {
  if (!body.is_object()) return BadRequest("the request body must be a JSON object");
  Fields f(body);
  if (!ParseCommon(f, body, limits, out) || !f.Bool("echo", &out->echo)) return f.error();
  std::optional<int64_t> best_of, logprobs;
  if (!f.Integer("best_of", &best_of)) return f.error();
  if (best_of && *best_of != 1) return BadRequest("only best_of = 1 is supported", "best_of");
  // Completions: logprobs is an integer 0..5 (the number of top tokens) or null.
  if (const Json* lp = f.Get("logprobs"); lp != nullptr && lp->is_boolean()) {
    out->logprobs = lp->get<bool>();
  } else if (!f.Integer("logprobs", &logprobs)) {
    return f.error();
  } else if (logprobs) {
    if (*logprobs < 0 || *logprobs > 5) return BadRequest("'logprobs' must be in [0, 5]", "logprobs");
    out->logprobs = true;
    out->top_logprobs = static_cast<int>(*logprobs);
  }
  const Json* prompt = f.Get("prompt");
  if (prompt == nullptr) return BadRequest("'prompt' is required", "prompt");
  auto ids_of = [&](const Json& array, std::vector<int32_t>* ids) -> bool {
    for (const Json& id : array) {
      if (!id.is_number_integer()) return false;
      const int64_t value = id.get<int64_t>();
      if (id.is_number_unsigned() && id.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
      if (value < 0 || value >= limits.vocab_size) return false;
      ids->push_back(static_cast<int32_t>(value));
    }
    return true;
  };
  const std::string id_error = "'prompt' token ids must be integers in [0, " + std::to_string(limits.vocab_size) + ")";
  if (prompt->is_string()) {
    out->prompts.push_back({false, prompt->get<std::string>(), {}});
  } else if (prompt->is_array()) {
    if (prompt->empty()) return BadRequest("'prompt' must not be empty", "prompt");
    if ((*prompt)[0].is_number()) {
      PromptInput input{true, "", {}};
      if (!ids_of(*prompt, &input.ids)) return BadRequest(id_error, "prompt");
      out->prompts.push_back(std::move(input));
    } else {
      if (prompt->size() > limits.max_prompts) {
        return BadRequest("at most " + std::to_string(limits.max_prompts) + " prompts per request", "prompt");
      }
      for (const Json& item : *prompt) {
        if (item.is_string()) {
          out->prompts.push_back({false, item.get<std::string>(), {}});
        } else if (item.is_array()) {
          PromptInput input{true, "", {}};
          if (item.empty()) return BadRequest("'prompt' token arrays must not be empty", "prompt");
          if (!ids_of(item, &input.ids)) return BadRequest(id_error, "prompt");
          out->prompts.push_back(std::move(input));
        } else {
          return BadRequest("'prompt' must be a string, an array of strings, an array of token ids "
                            "or an array of token-id arrays", "prompt");
        }
      }
    }
  } else {
    return BadRequest(TypeError("prompt", "a string or an array", *prompt), "prompt");
  }
  return std::nullopt;
}

}  // namespace lfm2::server
