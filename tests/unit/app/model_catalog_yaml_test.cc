#include "model_catalog_yaml.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "config.h"
#include "detect_setup.h"
#include "weighbridge/analytics/model_catalog.h"

namespace weighbridge::app {
namespace {

const std::string kShipped = std::string(WB_SOURCE_DIR) + "/config/models.yaml";

analytics::ModelCatalog Shipped() {
  auto spec = LoadModelCatalog({kShipped});
  EXPECT_TRUE(spec.ok()) << spec.error();
  auto c = analytics::ModelCatalog::Build(std::move(spec).value());
  EXPECT_TRUE(c.ok()) << c.error();
  return std::move(c).value();
}

std::uint64_t SizeOf(const analytics::ModelCatalog& c, const std::string& model,
                     const std::string& dtype) {
  for (const analytics::ModelCandidate& k : c.candidates()) {
    if (c.spec().models[k.model].name == model && c.spec().dtypes[k.dtype].name == dtype) {
      return k.bytes;
    }
  }
  ADD_FAILURE() << model << " " << dtype << " not in the catalog";
  return 0;
}

TEST(ModelCatalogYaml, ShippedCatalogCoversTheRange) {
  const analytics::ModelCatalog c = Shipped();
  const auto& models = c.spec().models;
  EXPECT_GE(models.size(), 40u);
  double smallest = 1e300;
  double largest = 0;
  int moe = 0;
  for (const analytics::ModelSpec& m : models) {
    smallest = std::min(smallest, m.params);
    largest = std::max(largest, m.params);
    moe += m.moe ? 1 : 0;
    EXPECT_FALSE(m.source.empty()) << m.name << " has no source";
  }
  EXPECT_LE(smallest, 0.5e9);
  EXPECT_GE(largest, 1e12);
  EXPECT_GE(moe, 10);
  EXPECT_GE(c.spec().dtypes.size(), 12u);
}

// Sizes from independent arithmetic (params x bits / 8), as ARCHITECTURE.md quotes them.
TEST(ModelCatalogYaml, WellKnownSizes) {
  const analytics::ModelCatalog c = Shipped();
  EXPECT_EQ(SizeOf(c, "Llama-3.1-8B", "bf16/fp16"), 16'060'000'000ULL);    // "8B bf16 = 16.1 GB"
  EXPECT_EQ(SizeOf(c, "Llama-3.1-70B", "bf16/fp16"), 141'200'000'000ULL);  // "70B = 141 GB"
  EXPECT_EQ(SizeOf(c, "DeepSeek-V3/R1", "fp8/int8"), 685'000'000'000ULL);  // "671B fp8 = 685 GB"
  EXPECT_EQ(SizeOf(c, "Kimi-K2", "fp8/int8"), 1'026'408'232'448ULL);       // the checkpoint's count
  EXPECT_EQ(SizeOf(c, "Qwen2.5-0.5B", "fp32"), 1'960'000'000ULL);
  EXPECT_EQ(SizeOf(c, "Mixtral-8x7B", "gguf-q8_0"), 49'618'750'000ULL);   // 46.7e9 x 8.5 / 8
  EXPECT_EQ(SizeOf(c, "Llama-3.1-8B", "gguf-q4_k_m"), 4'868'187'500ULL);  // 8.03e9 x 4.85 / 8
  EXPECT_EQ(SizeOf(c, "BLOOM-176B", "bf16/fp16"), 352'494'542'848ULL);
  EXPECT_EQ(SizeOf(c, "gpt-oss-120b", "mxfp4"), 62'156'250'000ULL);  // 117e9 x 4.25 / 8
}

TEST(ModelCatalogYaml, EightBillionBf16UploadMatchesLlama8B) {
  const analytics::ModelCatalog c = Shipped();
  auto m = c.Match(16'060'000'000ULL, 0.01);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "Llama-3.1-8B");
  EXPECT_EQ(m->dtype, "bf16/fp16");
  m = c.Match(685'000'000'000ULL, 0.01);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "DeepSeek-V3/R1");
  EXPECT_EQ(m->dtype, "fp8/int8");
}

TEST(ModelCatalogYaml, UserFileAddsModels) {
  analytics::ModelCatalogSpec spec;
  ASSERT_TRUE(ParseModelCatalogText("dtypes: [{name: bf16, bits: 16}]\n", "base.yaml", &spec).ok());
  const Status s = ParseModelCatalogText(
      "models:\n  - {name: Ours-3B, params: 3.3B, source: internal, dtypes: [bf16]}\n", "user.yaml",
      &spec);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(spec.models.size(), 1u);
  EXPECT_DOUBLE_EQ(spec.models[0].params, 3.3e9);
  auto c = analytics::ModelCatalog::Build(spec);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Match(6'600'000'000ULL, 0.01)->name, "Ours-3B");
}

TEST(ModelCatalogYaml, ErrorsNameFileLineAndKey) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"dtypes: [{name: x, bits: 16, colour: red}]\n",
       "t.yaml:1:30: dtypes[0].colour: unknown key"},
      {"dtypes:\n  - {name: x, bits: sixteen}\n", "t.yaml:2:21: dtypes[0].bits"},
      {"dtypes:\n  - {name: x, bits: 16, overhead: 2}\n", "dtypes[0].overhead"},
      {"dtypes:\n  - {name: x, bits: 16}\n  - {name: x, bits: 8}\n", "t.yaml:3:12: dtypes[1].name"},
      {"models:\n  - {name: m, params: 8.03}\n", "models[0].params"},
      {"models:\n  - {name: m, params: 8Q}\n", "models[0].params"},
      {"models:\n  - {params: 8B}\n", "models[0].name"},
      {"models:\n  - {name: m, params: 8B, dtypes: [bf17]}\n", "models[0].dtypes[0]"},
      {"models:\n  - {name: m, params: 8B, moe: yes}\n", "models[0].moe"},
      {"modles: []\n", "(top).modles: unknown key"},
      {"[1, 2]\n", "must be a map"},
      {"models: [\n", "not valid YAML"},
  };
  for (const Case& k : cases) {
    analytics::ModelCatalogSpec spec;
    const Status s = ParseModelCatalogText(k.text, "t.yaml", &spec);
    EXPECT_FALSE(s.ok()) << k.text;
    EXPECT_NE(s.message().find(k.want), std::string::npos) << k.text << " gave: " << s.message();
  }
}

TEST(ModelCatalogYaml, ParamCounts) {
  double p = 0;
  EXPECT_TRUE(ParseParamCount("8.03B", &p));
  EXPECT_DOUBLE_EQ(p, 8.03e9);
  EXPECT_TRUE(ParseParamCount("1.04T", &p));
  EXPECT_DOUBLE_EQ(p, 1.04e12);
  EXPECT_TRUE(ParseParamCount("176247271424", &p));
  EXPECT_DOUBLE_EQ(p, 176247271424.0);
  EXPECT_TRUE(ParseParamCount("350M", &p));
  EXPECT_DOUBLE_EQ(p, 350e6);
  EXPECT_FALSE(ParseParamCount("", &p));
  EXPECT_FALSE(ParseParamCount("B", &p));
  EXPECT_FALSE(ParseParamCount("-8B", &p));
  EXPECT_FALSE(ParseParamCount("8 B", &p));
  EXPECT_FALSE(ParseParamCount("8b", &p));
}

TEST(ModelCatalogYaml, MissingFileIsAnError) {
  auto r = LoadModelCatalog({"/nonexistent/models.yaml"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("/nonexistent/models.yaml"), std::string::npos);
}

}  // namespace
}  // namespace weighbridge::app

namespace weighbridge::app {
namespace {

// detect.weight_transfer.extra_catalogs: the operator's file beside the config adds a model to
// the shipped catalog, found relative to the config file.
TEST(ModelCatalogYaml, ExtraCatalogBesideTheConfigIsLoadedAfterTheShippedOne) {
  const std::string dir = ::testing::TempDir() + "/wb-extra-catalog";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/ours.yaml");
    f << "models:\n  - {name: Ours-Odd-3.3B, params: 3.31B, source: internal, dtypes: "
         "[bf16/fp16]}\n";
  }
  auto loaded = LoadConfigText("detect:\n  weight_transfer:\n    catalog: " WB_SOURCE_DIR
                               "/config/models.yaml\n"
                               "    extra_catalogs: [ours.yaml]\n",
                               "wb.yaml");
  ASSERT_TRUE(std::holds_alternative<Config>(loaded));
  auto catalog = LoadCatalogFor(std::get<Config>(loaded), dir + "/wb.yaml");
  ASSERT_TRUE(catalog.ok()) << catalog.error();
  const auto m = catalog->Match(6'620'000'000ULL, 0.001);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "Ours-Odd-3.3B");
  // And the shipped models are still there.
  EXPECT_TRUE(catalog->Match(16'060'000'000ULL, 0.01));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weighbridge::app
