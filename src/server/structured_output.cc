// server/structured_output.cc - response_format -> JsonSchemaConstraint factories.
#include "server/structured_output.h"

#include "sampling/json_schema.h"

namespace lfm2::server {

struct StructuredOutput::Impl {
  std::shared_ptr<const TokenVocabulary> vocab;
};

StructuredOutput::StructuredOutput(const Engine& engine) : impl_(std::make_unique<Impl>()) {
  const Tokenizer& tokenizer = *engine.tokenizer();
  // Special tokens contribute no bytes, so they are never allowed inside a JSON document.
  std::vector<std::string> bytes(static_cast<size_t>(engine.allowed_vocab()));
  for (int32_t id = 0; id < static_cast<int32_t>(bytes.size()); ++id) {
    if (tokenizer.IsValidId(id) && !tokenizer.IsSpecial(id)) bytes[id] = std::string(tokenizer.TokenBytes(id));
  }
  impl_->vocab = TokenVocabulary::Create(std::move(bytes), engine.stop_ids());
}

StructuredOutput::~StructuredOutput() = default;

StatusOr<ConstraintFactory> StructuredOutput::Factory(const ResponseFormat& format) const {
  if (format.type == ResponseFormatType::kText) return ConstraintFactory();
  StatusOr<JsonGrammarPtr> grammar = format.type == ResponseFormatType::kJsonObject
                                         ? CompileJsonObjectGrammar()
                                         : CompileJsonSchema(format.schema);
  if (!grammar.ok()) return grammar.status().WithContext("response_format");
  std::shared_ptr<const TokenVocabulary> vocab = impl_->vocab;
  JsonGrammarPtr compiled = *grammar;
  return ConstraintFactory([compiled, vocab]() -> std::unique_ptr<TokenConstraint> {
    return std::make_unique<JsonSchemaConstraint>(compiled, vocab);
  });
}

}  // namespace lfm2::server
