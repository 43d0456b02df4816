#pragma once
// Sub-commands of the `autoglm` binary. Each lives in its own cmd_<name>.cpp and registers itself
// with a static CommandRegistration; main() dispatches on argv[1].
#include <string_view>
#include <vector>

namespace ag::cli {

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `autoglm --help`
  // argv[0] is the sub-command name. Returns the process exit code.
  int (*run)(int argc, char** argv);
};

std::vector<Command>& command_registry();

struct CommandRegistration {
  explicit CommandRegistration(Command c) { command_registry().push_back(c); }
};

}  // namespace ag::cli
