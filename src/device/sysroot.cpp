#include "device/sysroot.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ag::device {

namespace fs = std::filesystem;

SysRoot::SysRoot(std::string root) : root_(std::move(root)) {
  if (root_.empty()) root_ = "/";
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string SysRoot::path(std::string_view abs) const {
  if (root_ == "/") return std::string(abs);
  std::string p = root_;
  if (abs.empty() || abs.front() != '/') p += '/';
  p += abs;
  return p;
}

std::optional<std::string> SysRoot::read(std::string_view abs) const {
  std::ifstream in(path(abs), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  // /proc files report size 0: read through the stream, capped so a hostile file cannot eat RAM.
  char buf[4096];
  size_t total = 0;
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    ss.write(buf, in.gcount());
    total += static_cast<size_t>(in.gcount());
    if (total > (4u << 20)) break;
  }
  if (in.bad()) return std::nullopt;
  return ss.str();
}

std::optional<std::string> SysRoot::read_line(std::string_view abs) const {
  auto text = read(abs);
  if (!text) return std::nullopt;
  std::string_view s = *text;
  if (auto nl = s.find('\n'); nl != std::string_view::npos) s = s.substr(0, nl);
  return std::string(trim(s));
}

std::optional<int64_t> SysRoot::read_int(std::string_view abs) const {
  auto line = read_line(abs);
  if (!line || line->empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(line->data(), line->data() + line->size(), v);
  if (ec != std::errc() || end != line->data() + line->size()) return std::nullopt;
  return v;
}

bool SysRoot::exists(std::string_view abs) const {
  std::error_code ec;
  return fs::exists(path(abs), ec);
}

std::vector<std::string> SysRoot::list(std::string_view abs) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(path(abs), ec), end; !ec && it != end; it.increment(ec))
    out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string SysRoot::resolve(std::string_view abs) const {
  std::error_code ec;
  fs::path p = path(abs);
  if (!fs::is_symlink(p, ec)) return {};
  fs::path target = fs::read_symlink(p, ec);
  if (ec) return {};
  if (target.is_relative()) target = p.parent_path() / target;
  return target.lexically_normal().string();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<int> count_cpu_list(std::string_view list) {
  list = trim(list);
  if (list.empty()) return std::nullopt;
  int n = 0;
  for (std::string_view part : split(list, ',')) {
    part = trim(part);
    auto parse = [](std::string_view t) -> std::optional<int> {
      int v = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || end != t.data() + t.size() || v < 0) return std::nullopt;
      return v;
    };
    if (auto dash = part.find('-'); dash != std::string_view::npos) {
      auto a = parse(part.substr(0, dash)), b = parse(part.substr(dash + 1));
      if (!a || !b || *b < *a || *b - *a > (1 << 20)) return std::nullopt;
      n += *b - *a + 1;
    } else {
      if (!parse(part)) return std::nullopt;
      n += 1;
    }
  }
  return n;
}

std::optional<std::string> field(std::string_view text, std::string_view key) {
  for (std::string_view line : split(text, '\n')) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (trim(line.substr(0, colon)) == key) return std::string(trim(line.substr(colon + 1)));
  }
  return std::nullopt;
}

}  // namespace ag::device
