#include "weighbridge/analytics/model_catalog.h"

#include <gtest/gtest.h>

#include <vector>

namespace weighbridge::analytics {
namespace {

ModelCatalogSpec SmallSpec() {
  ModelCatalogSpec s;
  s.dtypes = {{"fp32", 32, 0}, {"bf16/fp16", 16, 0}, {"fp8/int8", 8, 0}, {"gguf-q4_0", 4.5, 0}};
  s.models = {{"Llama-3.1-8B", 8.03e9, false, "card", {}},
              {"Llama-3.1-70B", 70.6e9, false, "card", {}},
              {"DeepSeek-V3/R1", 685e9, true, "card", {"fp8/int8", "bf16/fp16"}}};
  return s;
}

TEST(ModelCatalog, SizesAreParamsTimesBitsOverEight) {
  // Independent arithmetic: 8.03e9 params x 2 bytes; 70.6e9 x 2; 685e9 x 1; 8.03e9 x 4.5 / 8.
  EXPECT_EQ(ModelCatalog::SizeBytes(8.03e9, {"bf16", 16, 0}), 16'060'000'000ULL);
  EXPECT_EQ(ModelCatalog::SizeBytes(70.6e9, {"bf16", 16, 0}), 141'200'000'000ULL);
  EXPECT_EQ(ModelCatalog::SizeBytes(685e9, {"fp8", 8, 0}), 685'000'000'000ULL);
  EXPECT_EQ(ModelCatalog::SizeBytes(8.03e9, {"q4_0", 4.5, 0}), 4'516'875'000ULL);
  // 671B + 2.0864% overhead is the same 685 GB: 671e9 * 1.020864 = 685.0e9.
  EXPECT_NEAR(static_cast<double>(ModelCatalog::SizeBytes(671e9, {"fp8", 8, 14.0 / 671.0})), 685e9,
              1.0);
  EXPECT_EQ(ModelCatalog::SizeBytes(1e9, {"x", 16, 0.05}), 2'100'000'000ULL);
}

TEST(ModelCatalog, ExpandsModelsByTheirDtypes) {
  auto c = ModelCatalog::Build(SmallSpec());
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->candidates().size(), 4u + 4u + 2u);
  for (std::size_t i = 1; i < c->candidates().size(); ++i) {
    EXPECT_LE(c->candidates()[i - 1].bytes, c->candidates()[i].bytes);
  }
}

TEST(ModelCatalog, MatchesWithinToleranceAndReportsSignedError) {
  auto c = ModelCatalog::Build(SmallSpec());
  ASSERT_TRUE(c.ok());
  // 8 streams of 2.0075 GB = 16.06 GB: exactly Llama-3.1-8B in bf16.
  auto m = c->Match(16'060'000'000ULL, 0.01);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "Llama-3.1-8B");
  EXPECT_EQ(m->dtype, "bf16/fp16");
  EXPECT_EQ(m->bytes, 16'060'000'000ULL);
  EXPECT_DOUBLE_EQ(m->error_pct, 0.0);
  EXPECT_DOUBLE_EQ(m->params, 8.03e9);
  // 1% short of 141.2 GB.
  m = c->Match(139'788'000'000ULL, 0.02);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "Llama-3.1-70B");
  EXPECT_NEAR(m->error_pct, -1.0, 1e-9);
  // 685 GB -> DeepSeek fp8 (no fp32 candidate for it: its dtypes are restricted).
  m = c->Match(686'000'000'000ULL, 0.02);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->name, "DeepSeek-V3/R1");
  EXPECT_EQ(m->dtype, "fp8/int8");
}

TEST(ModelCatalog, NoMatchOutsideTolerance) {
  auto c = ModelCatalog::Build(SmallSpec());
  ASSERT_TRUE(c.ok());
  // 16.06 GB * 1.0201 is 2.01% over: outside 2%.
  EXPECT_FALSE(c->Match(16'382'806'000ULL, 0.02));
  EXPECT_TRUE(c->Match(16'381'200'000ULL, 0.02));  // exactly +2.00%
  EXPECT_FALSE(c->Match(0, 0.02));
  EXPECT_FALSE(c->Match(1'000'000, 0.02));
  EXPECT_FALSE(ModelCatalog().Match(16'060'000'000ULL, 0.5));
}

TEST(ModelCatalog, PicksTheClosestCandidate) {
  ModelCatalogSpec s;
  s.dtypes = {{"bf16", 16, 0}};
  s.models = {{"A", 10e9, false, "", {}}, {"B", 10.1e9, false, "", {}}};
  auto c = ModelCatalog::Build(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Match(20'150'000'000ULL, 0.05)->name, "B");  // 0.25% from B, 0.75% from A
  EXPECT_EQ(c->Match(20'090'000'000ULL, 0.05)->name, "A");  // 0.45% from A, 0.54% from B
  // A tie goes to the model listed first.
  s.models = {{"First", 10e9, false, "", {}}, {"Second", 10e9, false, "", {}}};
  c = ModelCatalog::Build(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Match(20'000'000'000ULL, 0.01)->name, "First");
}

TEST(ModelCatalog, MatchesListsEveryCandidateWithinToleranceNearestFirst) {
  ModelCatalogSpec s;
  s.dtypes = {{"bf16", 16, 0}};
  s.models = {{"A", 10e9, false, "", {}},
              {"B", 10.1e9, false, "", {}},
              {"C", 9.7e9, false, "", {}},
              {"D", 12e9, false, "", {}}};
  auto c = ModelCatalog::Build(s);
  ASSERT_TRUE(c.ok());
  // 20.15 GB: B +0.25%... A -0.75%... C (19.4 GB) -3.87%; D (24 GB) is 16% away.
  std::vector<ModelMatch> m = c->Matches(20'150'000'000ULL, 0.05, 10);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].name, "B");
  EXPECT_EQ(m[1].name, "A");
  EXPECT_EQ(m[2].name, "C");
  EXPECT_NEAR(m[2].error_pct, (20.15 - 19.4) / 19.4 * 100, 1e-9);
  EXPECT_EQ(m[0], *c->Match(20'150'000'000ULL, 0.05));  // Match is the first of them
  EXPECT_EQ(c->Matches(20'150'000'000ULL, 0.05, 2).size(), 2u);
  EXPECT_TRUE(c->Matches(20'150'000'000ULL, 0.05, 0).empty());
  EXPECT_EQ(c->Matches(20'150'000'000ULL, 0.001, 10).size(), 0u);
}

TEST(ModelCatalog, RejectsBadSpecs) {
  ModelCatalogSpec s = SmallSpec();
  s.models.push_back(s.models[0]);
  EXPECT_FALSE(ModelCatalog::Build(s).ok());  // duplicate model
  s = SmallSpec();
  s.models[0].dtypes = {"fp4"};
  auto r = ModelCatalog::Build(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("fp4"), std::string::npos);
  s = SmallSpec();
  s.models[0].params = 8.03;  // billions by mistake
  EXPECT_FALSE(ModelCatalog::Build(s).ok());
  s = SmallSpec();
  s.dtypes[0].bits_per_param = 0;
  EXPECT_FALSE(ModelCatalog::Build(s).ok());
  s = SmallSpec();
  s.dtypes.push_back(s.dtypes[0]);
  EXPECT_FALSE(ModelCatalog::Build(s).ok());
}

}  // namespace
}  // namespace weighbridge::analytics
