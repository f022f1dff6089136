// server/openai_generate.cc - POST /v1/chat/completions and /v1/completions: request -> prompt
// tokens -> GenerationJobs -> scheduler events -> one JSON response or an SSE stream.
#include <functional>

#include "server/api_server.h"
#include "server/openai_response.h"
#include "server/tool_call_output.h"

namespace lfm2::server {
namespace {

constexpr int kClientGone = 499;  // recorded in metrics; nothing is sent

// Hands events to `on_event` until all `jobs` are done. Returns false (and cancels the jobs)
// when the client leaves or `on_event` returns false (a write failed).
bool Drain(RequestChannel& channel, HttpResponder& responder, size_t jobs, double poll_seconds,
           const std::function<bool(GenerationEvent&)>& on_event) {
  size_t remaining = jobs;
  while (remaining > 0) {
    for (GenerationEvent& event : channel.Take(poll_seconds)) {
      const bool done = event.done;
      if (!on_event(event)) {
        channel.Cancel();
        return false;
      }
      if (done) --remaining;
    }
    if (remaining > 0 && responder.ClientGone()) {
      channel.Cancel();
      return false;
    }
  }
  return true;
}

// The first error among finished jobs, if any.
const Status* FirstError(const std::vector<GenerationEvent>& done) {
  for (const GenerationEvent& event : done) {
    if (!event.error.ok()) return &event.error;
  }
  return nullptr;
}

Json WithoutIndex(Json calls) {
  for (Json& call : calls) call.erase("index");
  return calls;
}

}  // namespace

std::optional<ApiError> ApiServer::MakeJob(const GenerationRequest& request,
                                           std::vector<int32_t> prompt, int index,
                                           const ConstraintFactory& constraint,
                                           GenerationJob* job) const {
  const int64_t context = scheduler_.options().context;
  const int64_t length = static_cast<int64_t>(prompt.size());
  job->prompt = std::move(prompt);
  job->max_tokens = request.max_tokens ? *request.max_tokens : std::max<int64_t>(1, context - length);
  job->sampling = ApplyOverrides(options_.sampling, request.sampling, NextSeed());
  job->stop = request.stop;
  job->top_logprobs = request.logprobs ? request.top_logprobs : -1;
  job->make_constraint = constraint;
  job->index = index;
  const Status check = scheduler_.Check(*job);
  if (!check.ok()) {
    // Name the field at fault: the prompt, max_tokens, or a sampling parameter.
    std::string param = length >= context ? "messages" : "max_tokens";
    if (!ValidateSamplingParams(job->sampling).ok()) param = "sampling";
    for (const char* name : {"logit_bias", "temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                             "presence_penalty", "frequency_penalty"}) {
      if (check.message().find(name) != std::string::npos) param = name;
    }
    return BadRequest(check.message(), param);
  }
  return std::nullopt;
}

int ApiServer::ChatCompletions(Json body, HttpResponder& responder) {
  ChatRequest request;
  if (auto error = ParseChatRequest(std::move(body), Limits(), &request)) return SendError(responder, *error);
  // tool_choice "required" / a named function: the reply is made to start with the call.
  using Mode = ToolChoice::Mode;
  std::string forced;
  if (request.tool_choice.mode == Mode::kRequired) forced = "<|tool_call_start|>[";
  if (request.tool_choice.mode == Mode::kFunction) {
    forced = "<|tool_call_start|>[" + request.tool_choice.function + "(";
  }
  auto rendered = RenderChat(request, /*add_generation_prompt=*/true, forced);
  if (!rendered.ok()) return SendError(responder, ErrorFromStatus(rendered.status(), "messages"));
  const bool parse_tools = !request.tool_names.empty() && request.tool_choice.mode != Mode::kNone;
  auto constraint = structured_->Factory(request.response_format);
  if (!constraint.ok()) return SendError(responder, ErrorFromStatus(constraint.status(), "response_format"));
  GenerationJob job;
  if (auto error = MakeJob(request, std::move(rendered->ids), 0, *constraint, &job)) {
    return SendError(responder, *error);
  }
  auto channel = std::make_shared<RequestChannel>();
  std::vector<GenerationJob> jobs;
  jobs.push_back(std::move(job));
  if (Status submitted = scheduler_.Submit(std::move(jobs), channel); !submitted.ok()) {
    return SendError(responder, ErrorFromStatus(submitted));
  }
  const Tokenizer& tokenizer = *engine_.tokenizer();
  ChatToolCalls tools(parse_tools, request.tools, forced);
  Json base = {{"id", NewResponseId("chatcmpl-")},
               {"object", "chat.completion"},
               {"created", UnixTime()},
               {"model", options_.model_name}};

  if (!request.stream) {
    std::string content;
    std::vector<TokenLogProb> logprobs;
    std::vector<GenerationEvent> done;
    if (!Drain(*channel, responder, 1, options_.poll_seconds, [&](GenerationEvent& event) {
          content += tools.Add(event.text);
          logprobs.insert(logprobs.end(), event.logprobs.begin(), event.logprobs.end());
          if (event.done) done.push_back(std::move(event));
          return true;
        })) {
      return kClientGone;
    }
    if (const Status* error = FirstError(done)) return SendError(responder, ErrorFromStatus(*error));
    content += tools.Finish();
    const Json& calls = tools.calls();
    Json message = {{"role", "assistant"},
                    {"content", content.empty() && !calls.empty() ? Json() : Json(content)}};
    if (!calls.empty()) message["tool_calls"] = WithoutIndex(calls);
    Json choice = {{"index", 0},
                   {"message", message},
                   {"logprobs", request.logprobs ? ChatLogProbs(tokenizer, logprobs) : Json()},
                   {"finish_reason", FinishReasonText(done[0].finish, !calls.empty())}};
    Usage usage;
    usage.Add(done[0]);
    base["choices"] = Json::array({choice});
    base["usage"] = UsageJson(usage);
    return SendJson(responder, 200, base);
  }

  base["object"] = "chat.completion.chunk";
  auto send_chunk = [&](Json delta, Json logprobs, Json finish_reason) {
    Json chunk = base;
    chunk["choices"] = Json::array({{{"index", 0},
                                     {"delta", std::move(delta)},
                                     {"logprobs", std::move(logprobs)},
                                     {"finish_reason", std::move(finish_reason)}}});
    if (request.include_usage) chunk["usage"] = nullptr;
    return responder.SendEvent(SseEvent(DumpJson(chunk)));
  };
  if (!responder.StartEvents() || !send_chunk({{"role", "assistant"}, {"content", ""}}, Json(), Json())) {
    channel->Cancel();
    return kClientGone;
  }
  std::vector<GenerationEvent> done;
  if (!Drain(*channel, responder, 1, options_.poll_seconds, [&](GenerationEvent& event) {
        std::string text = tools.Add(event.text);
        if (event.done) text += tools.Finish();
        if (!text.empty() || (request.logprobs && !event.logprobs.empty())) {
          if (!send_chunk({{"content", text}},
                          request.logprobs ? ChatLogProbs(tokenizer, event.logprobs) : Json(), Json())) {
            return false;
          }
        }
        const Json calls = tools.TakeNewCalls();
        if (!calls.empty() && !send_chunk({{"tool_calls", calls}}, Json(), Json())) return false;
        if (event.done) done.push_back(std::move(event));
        return true;
      })) {
    return kClientGone;
  }
  if (const Status* error = FirstError(done)) {
    responder.SendEvent(SseEvent(ErrorBody(ErrorFromStatus(*error))));
  } else {
    send_chunk(Json::object(), Json(), FinishReasonText(done[0].finish, !tools.calls().empty()));
    if (request.include_usage) {
      Usage usage;
      usage.Add(done[0]);
      Json chunk = base;
      chunk["choices"] = Json::array();
      chunk["usage"] = UsageJson(usage);
      responder.SendEvent(SseEvent(DumpJson(chunk)));
    }
  }
  responder.SendEvent(kSseDone);
  responder.EndEvents();
  return 200;
}

int ApiServer::Completions(const Json& body, HttpResponder& responder) {
  CompletionRequest request;
  if (auto error = ParseCompletionRequest(body, Limits(), &request)) return SendError(responder, *error);
  auto constraint = structured_->Factory(request.response_format);
  if (!constraint.ok()) return SendError(responder, ErrorFromStatus(constraint.status(), "response_format"));
  const Tokenizer& tokenizer = *engine_.tokenizer();
  std::vector<GenerationJob> jobs;
  std::vector<std::string> echoes;
  for (size_t i = 0; i < request.prompts.size(); ++i) {
    const PromptInput& input = request.prompts[i];
    std::vector<int32_t> ids = input.is_ids ? input.ids : engine_.Tokenize(input.text, /*rendered_chat=*/false);
    echoes.push_back(!request.echo ? std::string() : input.is_ids ? tokenizer.Decode(ids) : input.text);
    GenerationJob job;
    if (auto error = MakeJob(request, std::move(ids), static_cast<int>(i), *constraint, &job)) {
      if (error->param != "max_tokens") error->param = "prompt";
      return SendError(responder, *error);
    }
    jobs.push_back(std::move(job));
  }
  const size_t count = jobs.size();
  auto channel = std::make_shared<RequestChannel>();
  if (Status submitted = scheduler_.Submit(std::move(jobs), channel); !submitted.ok()) {
    return SendError(responder, ErrorFromStatus(submitted));
  }
  Json base = {{"id", NewResponseId("cmpl-")},
               {"object", "text_completion"},
               {"created", UnixTime()},
               {"model", options_.model_name}};
  std::vector<int64_t> offsets(count, 0);
  for (size_t i = 0; i < count; ++i) offsets[i] = static_cast<int64_t>(echoes[i].size());

  if (!request.stream) {
    std::vector<std::string> texts = echoes;
    std::vector<std::vector<TokenLogProb>> logprobs(count);
    std::vector<GenerationEvent> done;
    if (!Drain(*channel, responder, count, options_.poll_seconds, [&](GenerationEvent& event) {
          texts[event.index] += event.text;
          logprobs[event.index].insert(logprobs[event.index].end(), event.logprobs.begin(), event.logprobs.end());
          if (event.done) done.push_back(std::move(event));
          return true;
        })) {
      return kClientGone;
    }
    if (const Status* error = FirstError(done)) return SendError(responder, ErrorFromStatus(*error));
    std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    Json choices = Json::array();
    Usage usage;
    for (size_t i = 0; i < count; ++i) {
      usage.Add(done[i]);
      choices.push_back({{"text", texts[i]},
                         {"index", i},
                         {"logprobs", request.logprobs ? CompletionLogProbs(tokenizer, logprobs[i], &offsets[i]) : Json()},
                         {"finish_reason", FinishReasonText(done[i].finish, false)}});
    }
    base["choices"] = choices;
    base["usage"] = UsageJson(usage);
    return SendJson(responder, 200, base);
  }

  auto send_chunk = [&](size_t index, std::string text, Json logprobs, Json finish_reason) {
    Json chunk = base;
    chunk["choices"] = Json::array({{{"text", std::move(text)},
                                     {"index", index},
                                     {"logprobs", std::move(logprobs)},
                                     {"finish_reason", std::move(finish_reason)}}});
    if (request.include_usage) chunk["usage"] = nullptr;
    return responder.SendEvent(SseEvent(DumpJson(chunk)));
  };
  if (!responder.StartEvents()) {
    channel->Cancel();
    return kClientGone;
  }
  for (size_t i = 0; i < count; ++i) {
    if (!echoes[i].empty() && !send_chunk(i, echoes[i], Json(), Json())) {
      channel->Cancel();
      return kClientGone;
    }
  }
  std::vector<GenerationEvent> done;
  Usage usage;
  if (!Drain(*channel, responder, count, options_.poll_seconds, [&](GenerationEvent& event) {
        const size_t i = static_cast<size_t>(event.index);
        if (!event.text.empty() || (request.logprobs && !event.logprobs.empty()) || event.done) {
          Json logprobs = request.logprobs ? CompletionLogProbs(tokenizer, event.logprobs, &offsets[i]) : Json();
          Json finish = event.done && event.error.ok() ? Json(FinishReasonText(event.finish, false)) : Json();
          if (!send_chunk(i, event.text, std::move(logprobs), std::move(finish))) return false;
        }
        if (event.done) {
          usage.Add(event);
          done.push_back(std::move(event));
        }
        return true;
      })) {
    return kClientGone;
  }
  if (const Status* error = FirstError(done)) {
    responder.SendEvent(SseEvent(ErrorBody(ErrorFromStatus(*error))));
  } else if (request.include_usage) {
    Json chunk = base;
    chunk["choices"] = Json::array();
    chunk["usage"] = UsageJson(usage);
    responder.SendEvent(SseEvent(DumpJson(chunk)));
  }
  responder.SendEvent(kSseDone);
  responder.EndEvents();
  return 200;
}

}  // namespace lfm2::server
