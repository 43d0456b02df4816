#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/command.h"

namespace ag::cli {
std::vector<Command>& command_registry() {
  static std::vector<Command> commands;
  return commands;
}
}  // namespace ag::cli

static void print_usage(FILE* out) {
  auto commands = ag::cli::command_registry();
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::fprintf(out,
               "autoglm — a self-hosted LLM inference server for code\n\n"
               "usage: autoglm <command> [options]   (autoglm <command> --help for details)\n\n"
               "commands:\n");
  for (const auto& c : commands)
    std::fprintf(out, "  %-12.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
}

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("autoglm %s\n", AUTOGLM_VERSION);
    return 0;
  }
  for (const auto& c : ag::cli::command_registry())
    if (c.name == argv[1]) return c.run(argc - 1, argv + 1);
  std::fprintf(stderr, "autoglm: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 1;
}
