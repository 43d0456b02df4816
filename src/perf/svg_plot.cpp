#include "perf/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

namespace ag::perf {

namespace {

constexpr double kWidth = 720, kHeight = 420;
constexpr double kLeft = 80, kRight = 80, kTop = 50, kBottom = 60;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;
constexpr const char* kLatencyColour = "#d62728";
constexpr const char* kThroughputColour = "#1f77b4";

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A "nice" axis maximum (1, 2 or 5 times a power of ten) at or above v.
double nice_max(double v) {
  if (!(v > 0) || !std::isfinite(v)) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

std::string number(double v) {
  if (v >= 100 || v == std::floor(v)) return fmt::format("{:.0f}", v);
  if (v >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

}  // namespace

std::string sweep_svg(const std::vector<SweepPlotPoint>& points, const std::string& title) {
  double max_lat = 0, max_tps = 0;
  for (const auto& p : points) {
    max_lat = std::max(max_lat, p.latency_ms);
    max_tps = std::max(max_tps, p.tok_per_s);
  }
  const double lat_top = nice_max(max_lat), tps_top = nice_max(max_tps);
  const size_t n = points.size();
  auto x_of = [&](size_t i) {
    return n <= 1 ? kLeft + kPlotW / 2 : kLeft + kPlotW * static_cast<double>(i) / static_cast<double>(n - 1);
  };
  auto y_of = [&](double v, double top) { return kTop + kPlotH * (1 - v / top); };

  std::string s;
  s += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\" font-size=\"12\">\n",
      kWidth, kHeight, kWidth, kHeight);
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += fmt::format("<text x=\"{:.0f}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
                   kWidth / 2, escape(title));
  // Grid and both y axes: five intervals each.
  for (int k = 0; k <= 5; ++k) {
    const double y = kTop + kPlotH * k / 5.0;
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n",
                     kLeft, y, kLeft + kPlotW, y);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"{}\">{}</text>\n",
                     kLeft - 6, y + 4, kLatencyColour, number(lat_top * (5 - k) / 5.0));
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"start\" fill=\"{}\">{}</text>\n",
                     kLeft + kPlotW + 6, y + 4, kThroughputColour, number(tps_top * (5 - k) / 5.0));
  }
  s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
                   "stroke=\"#444\"/>\n",
                   kLeft, kTop, kPlotW, kPlotH);
  for (size_t i = 0; i < n; ++i) {
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", x_of(i),
                     kTop + kPlotH + 18, points[i].batch);
  }
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">batch size (concurrent "
                   "sequences)</text>\n",
                   kLeft + kPlotW / 2, kHeight - 16);
  s += fmt::format("<text transform=\"translate(18 {:.1f}) rotate(-90)\" text-anchor=\"middle\" "
                   "fill=\"{}\">mean latency per token (ms)</text>\n",
                   kTop + kPlotH / 2, kLatencyColour);
  s += fmt::format("<text transform=\"translate({:.1f} {:.1f}) rotate(90)\" text-anchor=\"middle\" "
                   "fill=\"{}\">aggregate throughput (tok/s)</text>\n",
                   kWidth - 18, kTop + kPlotH / 2, kThroughputColour);
  auto series = [&](const char* id, const char* colour, auto value, double top) {
    std::string pts;
    for (size_t i = 0; i < n; ++i)
      pts += fmt::format("{}{:.1f},{:.1f}", i ? " " : "", x_of(i), y_of(value(points[i]), top));
    s += fmt::format("<polyline id=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
                     "points=\"{}\"/>\n",
                     id, colour, pts);
    for (size_t i = 0; i < n; ++i)
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>\n", x_of(i),
                       y_of(value(points[i]), top), colour);
  };
  series("latency", kLatencyColour, [](const SweepPlotPoint& p) { return p.latency_ms; }, lat_top);
  series("throughput", kThroughputColour, [](const SweepPlotPoint& p) { return p.tok_per_s; }, tps_top);
  // Legend
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\">— latency (ms/token)</text>\n",
                   kLeft + 10, kTop + 16, kLatencyColour);
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\">— throughput (tok/s)</text>\n",
                   kLeft + 10, kTop + 32, kThroughputColour);
  s += "</svg>\n";
  return s;
}

Status write_sweep_svg(const std::string& path, const std::vector<SweepPlotPoint>& points,
                       const std::string& title) {
  if (points.empty()) return error("{}: no sweep points to plot", path);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return error("{}: cannot open for writing: {}", path, std::strerror(errno));
  f << sweep_svg(points, title);
  f.close();
  if (!f) return error("{}: write failed", path);
  return {};
}

}  // namespace ag::perf
