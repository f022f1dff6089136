// config.json parsing: both schemas, aliases, derived values and error messages.
#include "model/config.h"

#include <gtest/gtest.h>

#include "model/model_util.h"

namespace lfm2 {
namespace {

ModelConfig ParseOk(const std::string& text, const std::string& generation = "") {
  auto json = ParseJson(text, "config.json");
  EXPECT_TRUE(json.ok()) << json.status().ToString();
  Json gen;
  if (!generation.empty()) gen = *ParseJson(generation, "generation_config.json");
  auto config = ModelConfig::Parse(*json, generation.empty() ? nullptr : &gen, "config.json");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : ModelConfig{};
}

std::string ParseError(const std::string& text) {
  auto json = ParseJson(text, "config.json");
  if (!json.ok()) return json.status().message();
  auto config = ModelConfig::Parse(*json, nullptr, "config.json");
  EXPECT_FALSE(config.ok()) << text;
  return config.ok() ? "" : config.status().message();
}

TEST(ConfigTest, RealLfm2LegacyConfig) {
  // LiquidAI/LFM2-1.2B's config.json: full_attn_idxs + block_* keys with auto-adjusted FFN width.
  auto text = ReadFileToString(testing::SharedDir() + "/lfm2-tokenizer/config.json");
  ASSERT_TRUE(text.ok());
  ModelConfig c = ParseOk(*text);
  EXPECT_EQ(c.model_type, "lfm2");
  EXPECT_EQ(c.intermediate_size, 8192);  // 12288 -> int(2*12288/3) = 8192 -> multiple of 256
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.num_attention_layers(), 6);
  for (int i : {2, 5, 8, 10, 12, 14}) EXPECT_EQ(c.layer_kinds[i], LayerKind::kAttention) << i;
  EXPECT_EQ(c.layer_kinds[0], LayerKind::kConv);
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{7});
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.quantization.present());
}

TEST(ConfigTest, FfnAutoAdjustMatchesReleasedModels) {
  // 350M: 6656 -> 4608; 700M: 10240 -> 6912; 2.6B: 10752 without adjustment.
  for (auto [ff, adjust, want] : {std::tuple{6656, true, 4608}, {10240, true, 6912}, {10752, false, 10752}}) {
    ModelConfig c = ParseOk(StrCat(
        R"({"model_type":"lfm2","vocab_size":100,"hidden_size":128,"num_hidden_layers":2,)",
        R"("num_attention_heads":2,"num_key_value_heads":1,"full_attn_idxs":[1],"block_ff_dim":)", ff,
        R"(,"block_auto_adjust_ff_dim":)", adjust ? "true" : "false",
        R"(,"block_multiple_of":256,"block_ffn_dim_multiplier":1.0})"));
    EXPECT_EQ(c.intermediate_size, want) << ff;
  }
}

const char* kMoe =
    R"({"model_type":"lfm2_moe","vocab_size":65536,"hidden_size":2048,"num_hidden_layers":3,)"
    R"("num_attention_heads":32,"num_key_value_heads":8,"layer_types":["conv","full_attention","conv"],)"
    R"("intermediate_size":7168,"moe_intermediate_size":1792,"num_experts":32,"num_experts_per_tok":4,)"
    R"("num_dense_layers":2,"eos_token_id":[7,2],)";

TEST(ConfigTest, MoeConfigWithRopeParametersAndEosLists) {
  ModelConfig c = ParseOk(std::string(kMoe) +
                              R"("rope_parameters":{"rope_theta":5000000.0,"rope_type":"default"},)"
                              R"("quantization":{"group_size":64,"bits":3,"mode":"affine",)"
                              R"("model.layers.2.feed_forward.gate":{"group_size":64,"bits":8},)"
                              R"("model.layers.0.conv.in_proj":false}})",
                          R"({"eos_token_id":[7,5]})");
  EXPECT_TRUE(c.is_moe());
  EXPECT_TRUE(c.IsMoeLayer(2));
  EXPECT_FALSE(c.IsMoeLayer(1));
  EXPECT_EQ(c.rope_theta, 5e6);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{7, 2, 5}));
  EXPECT_TRUE(c.use_expert_bias);  // defaults
  EXPECT_TRUE(c.norm_topk_prob);
  EXPECT_EQ(c.routed_scaling_factor, 1.0);
  ASSERT_TRUE(c.quantization.present());
  EXPECT_EQ(c.quantization.global(), (QuantSpec{3, 64}));
  EXPECT_EQ(*c.quantization.ForModule("model.layers.2.feed_forward.gate"), (QuantSpec{8, 64}));
  EXPECT_FALSE(c.quantization.ForModule("model.layers.0.conv.in_proj").has_value());
  EXPECT_EQ(*c.quantization.ForModule("model.embed_tokens"), (QuantSpec{3, 64}));
}

TEST(ConfigTest, ErrorsNameTheKey) {
  const std::string base(kMoe);
  EXPECT_NE(ParseError(base + R"("rope_scaling":{"type":"yarn"}})").find("rope_scaling"), std::string::npos);
  EXPECT_NE(ParseError(base + R"("rope_parameters":{"rope_type":"llama3","rope_theta":1}})").find("rope_type \"llama3\""),
            std::string::npos);
  EXPECT_NE(ParseError(base + R"("quantization":{"group_size":64,"bits":4,"mode":"nvfp4"}})").find("\"nvfp4\""),
            std::string::npos);
  EXPECT_NE(ParseError(base + R"("quantization":{"group_size":64,"bits":4,"quantize_activations":true}})")
                .find("quantize_activations"),
            std::string::npos);
  EXPECT_NE(ParseError(base + R"("quantization":{"group_size":64,"bits":4,"model.x":{"bits":7,"group_size":64}}})")
                .find("quantization[\"model.x\"]: bits 7"),
            std::string::npos);
  EXPECT_NE(ParseError(base + R"("num_experts_per_tok":40})").find("duplicate key"), std::string::npos);
  EXPECT_NE(ParseError(R"({"model_type":"lfm2_moe","vocab_size":10})").find("hidden_size"), std::string::npos);
}

}  // namespace
}  // namespace lfm2
