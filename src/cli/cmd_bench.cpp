// `autoglm bench -m FILE [-p 128] [-n 64] [-t THREADS] [-r REPS] [--json] [--membw [--membw-mib N]]
//  [--sweep 1,2,4,8,16,32 [--plot FILE.svg]]`
// llama-bench style speed figures (issue 5): prompt processing (pp) and token generation (tg) in
// tokens per second, median with min / max over the repetitions; pp also as GFLOP/s and as a
// share of the measured FMA peak, tg as a share of the memory-bandwidth bound (with --membw:
// measured read bandwidth / weight bytes read per token). --sweep decodes N sequences in lockstep
// through the batched forward and reports latency per token and aggregate throughput per N.
#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "model/model.h"
#include "model/packed_weights.h"
#include "perf/machine_probe.h"
#include "perf/model_bench.h"
#include "perf/stats.h"
#include "perf/svg_plot.h"

namespace ag::cli {
namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "autoglm bench: %s\n", message.c_str());
  return 1;
}

Result<std::vector<int>> parse_sweep(const std::string& text) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < 1 || v > 512)
      return error("--sweep: '{}' is not a batch size in 1..512 (expected a list like 1,8,16)", item);
    out.push_back(v);
    start = comma + 1;
  }
  return out;
}

std::string human_params(uint64_t n) {
  if (n >= 1000000000) return fmt::format("{:.2f} B", static_cast<double>(n) / 1e9);
  if (n >= 1000000) return fmt::format("{:.2f} M", static_cast<double>(n) / 1e6);
  return fmt::format("{:.2f} K", static_cast<double>(n) / 1e3);
}

struct Options {
  std::string model_path;
  int n_prompt = 128;
  int n_gen = 64;
  int n_threads = 0;
  bool pin_threads = false;
  bool no_repack = false;
  int reps = 5;
  bool json = false;
  bool membw = false;
  int membw_mib = 1024;
  std::string sweep_text;
  std::string plot_path;
};

int run(int argc, char** argv) {
  CLI::App app{"Measure prompt processing and generation speed (like llama-bench)", "autoglm bench"};
  Options o;
  app.add_option("-m,--model", o.model_path, "GGUF model file");
  app.add_option("-p,--n-prompt", o.n_prompt, "prompt tokens of the pp test; 0 = skip")
      ->check(CLI::Range(0, 1 << 16));
  app.add_option("-n,--n-gen", o.n_gen, "tokens of the tg test (and per sweep sequence); 0 = skip tg")
      ->check(CLI::Range(0, 1 << 16));
  app.add_option("-t,--threads", o.n_threads, "threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--pin-threads", o.pin_threads, "bind thread i of the forward pass to the i-th CPU the process may use");
  app.add_flag("--no-repack", o.no_repack, "use the weights in the file's layout (no repacking at load)");
  app.add_option("-r,--repetitions", o.reps, "timed repetitions of each test")
      ->check(CLI::Range(1, 1000));
  app.add_flag("--json", o.json, "print a JSON list of result objects instead of Markdown");
  app.add_flag("--membw", o.membw,
               "measure memory read bandwidth; with -m, report tg as a % of the bandwidth bound");
  app.add_option("--membw-mib", o.membw_mib, "size of the bandwidth probe's array in MiB")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--sweep", o.sweep_text,
                 "batch sizes (comma-separated) decoded concurrently, e.g. 1,2,4,8,16,32");
  app.add_option("--plot", o.plot_path, "with --sweep: write latency and throughput to an SVG file");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return fail(e.what());
  }
  if (o.n_threads == 0)
    o.n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> sweep;
  if (!o.sweep_text.empty()) {
    auto parsed = parse_sweep(o.sweep_text);
    if (!parsed) return fail(parsed.error().message);
    sweep = std::move(*parsed);
  }
  if (!o.plot_path.empty() && sweep.empty()) return fail("--plot needs --sweep");
  if (o.model_path.empty() && !o.membw) return fail("-m FILE is required (or --membw alone)");
  if (!o.model_path.empty() && !sweep.empty() && o.n_gen == 0)
    return fail("--sweep needs -n >= 1 (tokens per sequence)");

  nlohmann::json results = nlohmann::json::array();
  std::string text;

  // Machine probes first, on a pool of the benchmark's thread count, before the model is mapped.
  ThreadPool probe_pool(o.n_threads);
  if (o.membw) {
    auto bw = perf::probe_read_bandwidth(probe_pool, static_cast<uint64_t>(o.membw_mib) << 20, 7);
    if (!bw) return fail(bw.error().message);
    const perf::Summary s = perf::summarize(bw->pass_gbs);
    results.push_back({{"test", "membw"}, {"threads", o.n_threads}, {"bytes", bw->bytes},
                       {"passes", bw->pass_gbs.size()}, {"gbs", s.median}, {"gbs_min", s.min},
                       {"gbs_max", s.max}});
    text += fmt::format("memory read bandwidth: {:.1f} GB/s (median of {} passes over {} MiB, {} "
                        "threads; min {:.1f}, max {:.1f})\n",
                        s.median, s.n, bw->bytes >> 20, o.n_threads, s.min, s.max);
  }
  double fma_gflops = 0;
  if (!o.model_path.empty() && o.n_prompt > 0) {
    const perf::FmaProbe fma = perf::probe_fma_peak(probe_pool, 0.3);
    fma_gflops = fma.gflops;
    text += fmt::format("FMA peak: {:.1f} GFLOP/s ({} threads, {})\n", fma.gflops, o.n_threads,
                        fma.simd ? "AVX2 FMA" : "scalar");
  }

  std::vector<perf::SweepPlotPoint> plot;
  if (!o.model_path.empty()) {
    auto model = Model::load(o.model_path, {.n_threads = o.n_threads,
                                            .pin_threads = o.pin_threads,
                                            .repack = !o.no_repack});
    if (!model) return fail(model.error().message);
    const perf::ModelCost cost = perf::model_cost((*model)->file());
    // Which dot kernels run (AUTOGLM_FORCE_SCALAR=1 clears every feature, so it reads "scalar").
    // The same tests as the dot tiles' dispatch (tensor/x86/legacy_avx2.cpp).
    const auto& f = cpu_features();
    const std::string kernels = !cpu_has_avx2_fma()                      ? "scalar"
                                : f.avx512f && f.avx512bw && f.avx512vnni ? "AVX2+AVX-512 VNNI"
                                : f.avxvnni                               ? "AVX2+AVX-VNNI"
                                                                          : "AVX2";
    const int n_packed = (*model)->n_packed_matrices();
    // The packed layouts and the kernel each runs on ("q4_kx16 avx2"), once each.
    std::vector<std::string> packed_kernels;
    if (n_packed > 0) {
      for (const auto& t : (*model)->file().tensors()) {
        if (!repacked_at_load((*model)->file(), t)) continue;
        std::string name = packed_layout_name(t.type) + " " + packed_isa_name(*best_packed_isa(t.type));
        if (std::find(packed_kernels.begin(), packed_kernels.end(), name) == packed_kernels.end())
          packed_kernels.push_back(std::move(name));
      }
    }
    const std::string repacked =
        n_packed == 0 ? ""
                      : fmt::format(", {} matrices repacked at load: {}", n_packed, fmt::join(packed_kernels, ", "));
    text += fmt::format("model: {} ({:.1f} MiB read per token, {} params, {} kernels{})\n\n",
                        o.model_path, static_cast<double>(cost.weights_bytes) / (1 << 20),
                        human_params(cost.n_params), kernels, repacked);
    text += "| test | threads | tok/s (median) | min | max | GFLOP/s | % FMA peak | % bw bound |\n";
    text += "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
    auto base_object = [&](const std::string& test, const perf::Summary& s) {
      return nlohmann::json{{"test", test}, {"threads", o.n_threads}, {"reps", o.reps},
                            {"tok_per_s", s.median}, {"tok_per_s_min", s.min},
                            {"tok_per_s_max", s.max}, {"weights_bytes", cost.weights_bytes},
                            {"n_params", cost.n_params}, {"kernels", kernels},
                            {"repacked_matrices", n_packed}, {"packed_kernels", packed_kernels}};
    };
    if (o.n_prompt > 0) {
      auto rates = perf::bench_prompt(**model, o.n_prompt, o.reps);
      if (!rates) return fail(rates.error().message);
      const perf::Summary s = perf::summarize(*rates);
      const double flops_per_token = perf::prompt_flops(cost, o.n_prompt) / o.n_prompt;
      const double gflops = flops_per_token * s.median / 1e9;
      const double pct_fma = fma_gflops > 0 ? 100 * gflops / fma_gflops : 0;
      nlohmann::json j = base_object(fmt::format("pp{}", o.n_prompt), s);
      j["n_prompt"] = o.n_prompt;
      j["gflops"] = gflops;
      j["fma_peak_gflops"] = fma_gflops;
      j["pct_of_fma_peak"] = pct_fma;
      results.push_back(j);
      text += fmt::format("| pp{} | {} | {:.2f} | {:.2f} | {:.2f} | {:.1f} | {:.1f}% | |\n",
                          o.n_prompt, o.n_threads, s.median, s.min, s.max, gflops, pct_fma);
    }
    if (o.n_gen > 0) {
      // With --membw each repetition is timed right after its own bandwidth probe (3 passes over
      // the --membw-mib array) and compared with that bound: the host's bandwidth moves by up to
      // 2x from one minute to the next on shared machines, so a probe taken a test earlier can
      // put the ratio anywhere. The reported ratio is the median of the per-repetition ratios.
      std::vector<double> rates, rep_gbs, rep_pct;
      const bool paired = o.membw && cost.weights_bytes > 0;
      if (paired) {
        for (int rep = 0; rep < o.reps; ++rep) {
          auto bw = perf::probe_read_bandwidth(probe_pool, static_cast<uint64_t>(o.membw_mib) << 20, 3);
          if (!bw) return fail(bw.error().message);
          auto one = perf::bench_generate(**model, o.n_gen, 1);
          if (!one) return fail(one.error().message);
          rates.push_back(one->front());
          rep_gbs.push_back(bw->median_gbs);
          rep_pct.push_back(100 * one->front() * static_cast<double>(cost.weights_bytes) / (bw->median_gbs * 1e9));
        }
      } else {
        auto all = perf::bench_generate(**model, o.n_gen, o.reps);
        if (!all) return fail(all.error().message);
        rates = std::move(*all);
      }
      const perf::Summary s = perf::summarize(rates);
      nlohmann::json j = base_object(fmt::format("tg{}", o.n_gen), s);
      j["n_gen"] = o.n_gen;
      std::string pct_text;
      if (paired) {
        const perf::Summary gbs = perf::summarize(rep_gbs), pct = perf::summarize(rep_pct);
        const double bound = gbs.median * 1e9 / static_cast<double>(cost.weights_bytes);
        j["membw_gbs"] = gbs.median;  // median of the per-repetition probes
        j["membw_gbs_per_rep"] = rep_gbs;
        j["tok_per_s_per_rep"] = rates;
        j["bound_tok_per_s"] = bound;
        j["pct_of_bandwidth_bound"] = pct.median;
        j["pct_of_bandwidth_bound_min"] = pct.min;
        j["pct_of_bandwidth_bound_max"] = pct.max;
        pct_text = fmt::format("{:.1f}% ({:.1f}-{:.1f}; bound {:.1f} tok/s at {:.1f} GB/s)",
                               pct.median, pct.min, pct.max, bound, gbs.median);
      }
      results.push_back(j);
      text += fmt::format("| tg{} | {} | {:.2f} | {:.2f} | {:.2f} | | | {} |\n", o.n_gen,
                          o.n_threads, s.median, s.min, s.max, pct_text);
    }
    if (!sweep.empty()) {
      text += fmt::format("\nbatched decode: N sequences x {} tokens in lockstep, {} threads\n\n",
                          o.n_gen, o.n_threads);
      text += "| batch | mean latency per token (ms) | aggregate tok/s | min | max | vs batch 1 |\n";
      text += "| --- | --- | --- | --- | --- | --- |\n";
      double first_rate = 0;
      for (int batch : sweep) {
        auto reps = perf::bench_sweep(**model, batch, o.n_gen, o.reps);
        if (!reps) return fail(reps.error().message);
        std::vector<double> rates, lat;
        for (const auto& r : *reps) {
          rates.push_back(r.tok_per_s);
          lat.push_back(r.step_ms);
        }
        const perf::Summary s = perf::summarize(rates);
        const perf::Summary l = perf::summarize(lat);
        if (first_rate == 0) first_rate = s.median;
        results.push_back({{"test", fmt::format("sweep{}", batch)}, {"batch", batch},
                           {"threads", o.n_threads}, {"reps", o.reps}, {"n_gen", o.n_gen},
                           {"latency_ms", l.median}, {"latency_ms_min", l.min},
                           {"latency_ms_max", l.max}, {"tok_per_s", s.median},
                           {"tok_per_s_min", s.min}, {"tok_per_s_max", s.max}});
        text += fmt::format("| {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.2f}x |\n", batch, l.median,
                            s.median, s.min, s.max, s.median / first_rate);
        plot.push_back({batch, l.median, s.median});
      }
      if (!o.plot_path.empty()) {
        const std::string title =
            fmt::format("batched decode, {} threads: {}", o.n_threads, o.model_path);
        if (Status st = perf::write_sweep_svg(o.plot_path, plot, title); !st.ok())
          return fail(st.error().message);
      }
    }
  }
  if (o.json) {
    std::printf("%s\n", results.dump(2).c_str());
  } else {
    std::fputs(text.c_str(), stdout);
  }
  return 0;
}

const CommandRegistration kRegistration{
    {"bench", "measure prompt and generation speed, memory bandwidth, batched-decode sweep", run}};

}  // namespace
}  // namespace ag::cli
