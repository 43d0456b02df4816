// Writes the seed corpus of jinja_fuzz: the built-in chat templates and small templates that use
// each construct. Usage: jinja_seeds DIR
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: jinja_seeds DIR\n");
    return 2;
  }
  std::vector<std::string> seeds;
  for (auto name : ag::tok::builtin_template_names()) seeds.push_back(ag::tok::ChatTemplate::builtin(name).value().source());
  const char* snippets[] = {
      "{% for m in messages %}{{ loop.index }}{{ m.role|upper }}{% if not loop.last %},{% endif %}{% endfor %}",
      "{%- set ns = namespace(n=0) -%}\n{%- for m in messages if m.content -%}\n  {%- set ns.n = ns.n + 1 -%}\n{%- endfor %}{{ ns.n }}",
      "{% macro f(x, y='d') %}{{ x ~ y }}{{ caller() if caller is defined }}{% endmacro %}{% call f(1) %}c{% endcall %}",
      "{{ tools|tojson(indent=2) }}{{ messages[2].tool_calls[0].function.arguments|tojson }}",
      "{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join(' | ') }}",
      "{{ 'a,b'.split(',')[::-1] }}{{ '%s-%d' % ('x', 3) }}{{ '{}{:>4}'.format(1, 'x') }}{{ (1.5 ** 2) // 1 }}",
      "{% set x %}block{% endset %}{{ x|trim|title }}{% filter upper %}f{% endfilter %}{% raw %}{{ r }}{% endraw %}",
      "{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}",
      "{{ raise_exception('x') if messages[0].role != 'system' }}{{ strftime_now('%Y') }}{# c #}",
  };
  for (const char* s : snippets) seeds.emplace_back(s);
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string path = std::string(argv[1]) + "/seed_" + std::to_string(i) + ".jinja";
    std::ofstream f(path, std::ios::binary);
    f << seeds[i];
    if (!f) {
      std::fprintf(stderr, "jinja_seeds: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
