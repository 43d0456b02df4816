// The pieces behind `autoglm bench`: summaries, probes, model cost accounting, the SVG writer.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "perf/machine_probe.h"
#include "perf/model_bench.h"
#include "perf/stats.h"
#include "perf/svg_plot.h"

namespace ag::perf {
namespace {

const std::string kStories = AUTOGLM_SHARED_DIR "/models/stories260K.gguf";

TEST(Summary, MedianMinMax) {
  const double odd[] = {3, 1, 2};
  Summary s = summarize(odd);
  EXPECT_EQ(s.median, 2);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 3);
  EXPECT_EQ(s.n, 3);
  const double even[] = {4, 1, 3, 2};
  s = summarize(even);
  EXPECT_EQ(s.median, 2.5);
  EXPECT_EQ(summarize({}).n, 0);
}

TEST(MachineProbe, BandwidthReadsTheWholeArray) {
  ThreadPool pool(2);
  auto bw = probe_read_bandwidth(pool, (8u << 20) + 100, 3);
  ASSERT_TRUE(bw.ok()) << bw.error().message;
  EXPECT_EQ(bw->bytes, 8u << 20);  // rounded down to pages
  ASSERT_EQ(bw->pass_gbs.size(), 3u);
  EXPECT_GT(bw->median_gbs, 0);
  EXPECT_GE(bw->max_gbs, bw->median_gbs);
  EXPECT_FALSE(probe_read_bandwidth(pool, 100, 3).ok());
  EXPECT_FALSE(probe_read_bandwidth(pool, 1 << 20, 0).ok());
}

TEST(MachineProbe, FmaPeakIsPositive) {
  ThreadPool pool(2);
  const FmaProbe f = probe_fma_peak(pool, 0.02);
  EXPECT_EQ(f.n_threads, 2);
  EXPECT_GT(f.gflops, 0);
}

TEST(ModelCost, CountsStories260K) {
  auto file = gguf::File::open(kStories);
  ASSERT_TRUE(file.ok()) << file.error().message;
  const ModelCost c = model_cost(*file);
  uint64_t all_bytes = 0, all_params = 0, embd_bytes = 0;
  for (const auto& t : file->tensors()) {
    all_bytes += t.n_bytes;
    all_params += t.n_elements;
    if (t.name == "token_embd.weight") embd_bytes = t.n_bytes;
  }
  EXPECT_EQ(c.n_params, all_params);
  ASSERT_GT(embd_bytes, 0u);
  if (file->tensor("output.weight") != nullptr) {
    EXPECT_EQ(c.weights_bytes, all_bytes - embd_bytes);
    EXPECT_EQ(c.output_params, file->tensor("output.weight")->n_elements);
  } else {
    EXPECT_EQ(c.weights_bytes, all_bytes);
  }
  // Matmul parameters are those of the 2-D block tensors.
  uint64_t layer = 0;
  for (const auto& t : file->tensors())
    if (t.name.starts_with("blk.") && t.shape.size() == 2) layer += t.n_elements;
  EXPECT_EQ(c.layer_matmul_params, layer);
  EXPECT_DOUBLE_EQ(prompt_flops(c, 10), 2.0 * static_cast<double>(layer) * 10 +
                                            2.0 * static_cast<double>(c.output_params));
}

TEST(ModelBench, RunsOnStories260K) {
  auto model = Model::load(kStories, {.n_threads = 2});
  ASSERT_TRUE(model.ok()) << model.error().message;
  auto pp = bench_prompt(**model, 8, 2);
  ASSERT_TRUE(pp.ok()) << pp.error().message;
  ASSERT_EQ(pp->size(), 2u);
  for (double r : *pp) EXPECT_GT(r, 0);
  auto tg = bench_generate(**model, 5, 2);
  ASSERT_TRUE(tg.ok()) << tg.error().message;
  ASSERT_EQ(tg->size(), 2u);
  auto sw = bench_sweep(**model, 3, 4, 1);
  ASSERT_TRUE(sw.ok()) << sw.error().message;
  ASSERT_EQ(sw->size(), 1u);
  EXPECT_GT((*sw)[0].tok_per_s, 0);
  EXPECT_GT((*sw)[0].step_ms, 0);
  EXPECT_FALSE(bench_prompt(**model, 0, 1).ok());
  EXPECT_FALSE(bench_sweep(**model, 0, 4, 1).ok());
}

TEST(SweepSvg, DrawsBothSeries) {
  const std::vector<SweepPlotPoint> pts = {{1, 20.0, 50.0}, {8, 40.0, 200.0}, {16, 60.0, 266.7}};
  const std::string svg = sweep_svg(pts, "a <b> & c");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; c"), std::string::npos);
  EXPECT_NE(svg.find("id=\"latency\""), std::string::npos);
  EXPECT_NE(svg.find("id=\"throughput\""), std::string::npos);
  size_t circles = 0;
  for (size_t p = svg.find("<circle"); p != std::string::npos; p = svg.find("<circle", p + 1)) ++circles;
  EXPECT_EQ(circles, 6u);
  // The largest throughput sits below the top of its axis (nice maximum 500), inside the plot.
  EXPECT_NE(svg.find(">500<"), std::string::npos);
  EXPECT_NE(svg.find(">16<"), std::string::npos);

  const auto path = std::filesystem::path(testing::TempDir()) / "sweep_test.svg";
  ASSERT_TRUE(write_sweep_svg(path.string(), pts, "t").ok());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), sweep_svg(pts, "t"));
  EXPECT_FALSE(write_sweep_svg("/nonexistent-dir/x.svg", pts, "t").ok());
  EXPECT_FALSE(write_sweep_svg(path.string(), {}, "t").ok());
}

}  // namespace
}  // namespace ag::perf
