// safetensors parsing on crafted bytes: valid headers (incl. unpadded MLX style and empty
// tensors) and the validation errors.
#include "io/safetensors.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lfm2 {
namespace {

std::vector<uint8_t> Image(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> bytes(8 + header.size() + data_bytes, 0xAB);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

StatusOr<std::vector<TensorInfo>> Parse(const std::vector<uint8_t>& bytes) {
  return SafetensorsFile::ParseHeader(bytes, "t.safetensors", nullptr);
}

TEST(SafetensorsTest, ParsesUnpaddedHeaderAndMetadata) {
  const std::string header =
      R"({"__metadata__":{"format":"mlx"},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},)"
      R"("a":{"dtype":"U32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,4],"data_offsets":[14,14]}})";
  auto bytes = Image(header, 14);
  std::map<std::string, std::string> metadata;
  auto tensors = SafetensorsFile::ParseHeader(bytes, "t", &metadata);
  ASSERT_TRUE(tensors.ok()) << tensors.status().ToString();
  ASSERT_EQ(tensors->size(), 3u);
  EXPECT_EQ(metadata["format"], "mlx");
  const TensorInfo& b = (*tensors)[0];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.dtype, DType::kBF16);
  EXPECT_EQ(b.bytes, 6u);
  EXPECT_EQ(b.data, bytes.data() + 8 + header.size() + 8);  // byte-aligned only
  EXPECT_EQ(b.ShapeString(), "[3]");
}

TEST(SafetensorsTest, RejectsMalformedHeaders) {
  struct Case {
    std::string header;
    size_t data;
    std::string fragment;
  };
  const Case cases[] = {
      {R"({"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", 4, "unknown dtype \"F17\""},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4, "needs 8 bytes"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 2, "run past the end"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
       8, "overlaps"},
      {R"({"a":{"dtype":"F32","shape":[1]}})", 4, "missing \"data_offsets\""},
      {R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", 4, "overflows"},
      {R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2, "not a whole number of bytes"},
      {R"({"a":{"dtype":"F32","shape":"x","data_offsets":[0,4]}})", 4, "expected an array"},
      {R"({"a":1})", 0, "expected an object"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, "duplicate key \"a\""},
      {R"({"a":)", 0, "invalid JSON"},
  };
  for (const Case& c : cases) {
    auto parsed = Parse(Image(c.header, c.data));
    ASSERT_FALSE(parsed.ok()) << c.header;
    EXPECT_NE(parsed.status().message().find(c.fragment), std::string::npos)
        << c.header << " -> " << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("t.safetensors"), std::string::npos);
  }
}

TEST(SafetensorsTest, RejectsBadLengths) {
  std::vector<uint8_t> tiny = {1, 2, 3};
  EXPECT_NE(Parse(tiny).status().message().find("too short"), std::string::npos);
  auto bytes = Image("{}", 0);
  bytes[0] = 100;  // header length 100 > file
  EXPECT_NE(Parse(bytes).status().message().find("runs past the end"), std::string::npos);
  bytes[7] = 1;  // 2^56 + 100
  EXPECT_NE(Parse(bytes).status().message().find("exceeds the limit"), std::string::npos);
}

}  // namespace
}  // namespace lfm2
