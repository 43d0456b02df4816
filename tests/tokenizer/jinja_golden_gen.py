#!/usr/bin/env python3
"""Writes jinja_golden.json: expected outputs for the C++ Jinja engine, produced by Python's
jinja2 configured the way Hugging Face transformers renders chat templates.

Two implementations that agree are evidence: every expected string here comes from jinja2 itself
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, the {% generation %}
tag, raise_exception, strftime_now and transformers' tojson), not from the engine under test.

Sections:
  snippets  - small templates exercising one construct each (default context CTX unless given)
  templates - the real model templates in chat_templates/ rendered on several conversations
  chat      - ChatTemplate semantics (system-role polyfill when the template cannot show a system
              message, leading BOS / trailing EOS stripped), as llama.cpp applies templates

Usage: python3 tests/tokenizer/jinja_golden_gen.py   (needs jinja2 >= 3.1)
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
NOW_EPOCH = 1720000000  # 2024-07-03 09:46:40 UTC; tests pass the same instant
NOW = datetime.datetime.fromtimestamp(NOW_EPOCH)


class AssistantTracker(Extension):
    # transformers' {% generation %} ... {% endgeneration %}: renders the body unchanged.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return NOW.strftime(format)


ENV = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
ENV.filters["tojson"] = tojson
ENV.globals["raise_exception"] = raise_exception
ENV.globals["strftime_now"] = strftime_now


def render(source, ctx):
    try:
        return {"expected": ENV.from_string(source).render(**ctx)}
    except Exception as e:  # noqa: BLE001 - any jinja2 failure is an expected error
        return {"error": type(e).__name__ + ": " + str(e)}


STD = [
    {"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi there"},
    {"role": "user", "content": "Who are you"},
    {"role": "assistant", "content": "   I am an assistant   "},
    {"role": "user", "content": "Another question"},
]
NO_SYSTEM = STD[1:]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
                    "days": {"type": "integer", "description": "Forecast days"},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search_code",
            "description": "Search the repository for a symbol.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "Symbol name"}}, "required": ["query"]},
        },
    },
]
TOOL_CONV = [
    {"role": "system", "content": "You are a coding assistant."},
    {"role": "user", "content": "What's the weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call12345", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
        ],
    },
    {"role": "tool", "tool_call_id": "call12345", "name": "get_weather", "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
    {"role": "assistant", "content": "It is 21°C and clear in Paris."},
    {"role": "user", "content": "Thanks! Now find `parse_args` — and say \"done\"."},
]
# The same conversation as an OpenAI client sends it: tool-call arguments as a JSON string.
TOOL_CONV_STR = json.loads(json.dumps(TOOL_CONV))
TOOL_CONV_STR[2]["tool_calls"][0]["function"]["arguments"] = json.dumps({"city": "Paris", "unit": "celsius"})
THINK_CONV = [
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "<think>\nsimple math\n</think>\n\n4"},
    {"role": "user", "content": "And 3+3?"},
]

CTX = {
    "messages": STD,
    "s": "Hello World",
    "e": "",
    "n": 5,
    "z": 0,
    "f": 2.5,
    "neg": -3,
    "big": 12345678901234,
    "t": True,
    "fa": False,
    "no": None,
    "l": [3, 1, 2],
    "sl": ["b", "A", "c", "a", "B"],
    "d": {"b": 1, "a": 2, "C": 3},
    "users": [
        {"name": "x", "age": 3, "role": "user", "tags": ["p", "q"]},
        {"name": "Y", "age": 1, "role": "assistant"},
        {"name": "z", "age": 2, "role": "user", "extra": None},
    ],
    "nested": {"a": {"b": [1, {"c": "deep"}]}},
    "u": "héllo wörld ß ÉTÉ 日本語 ﬁ",
    "ws": "  \t padded \n ",
    "ml": "line1\nline2\n\nline4",
    "tools": TOOLS,
    "j": {"k": "é\"\\\n\t\u0001 <>&'/", "n": [1, 2.5, None, True, False], "e": {}, "el": [], "f": 1e-7, "g": 1e22},
    "code": "def f(x):\n    return x * 2\n",
}

# (template, context override or None). Each renders against CTX updated with the override.
SNIPPETS = [
    # --- output and literals
    "plain text only",
    "{{ s }}|{{ n }}|{{ f }}|{{ t }}|{{ fa }}|{{ no }}|{{ undefined_var }}|",
    "{{ l }}|{{ d }}|{{ sl }}|{{ (1, 'a') }}|{{ (1,) }}|{{ () }}|{{ [] }}|{{ {} }}",
    "{{ 'it''s' }}|{{ \"say \\\"hi\\\"\" }}|{{ 'tab\\tnl\\nq\\'' }}|{{ '\\x41\\u00e9\\U0001F600' }}|{{ 'a\\qb' }}",
    "{{ 'adjacent' 'strings' \"joined\" }}",
    "{{ 1 }} {{ -1 }} {{ 1.0 }} {{ 1.5e3 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e-5 }} {{ 123456789.123 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }}",
    "{{ 10 / 4 }} {{ 10 // 4 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}",
    "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -n }} {{ +n }} {{ - -n }} {{ n - -1 }} {{ true + 1 }} {{ 3 * 'ab' }} {{ 'ab' * 0 }} {{ [1] * 3 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ undefined_var ~ [1] }}",
    "{{ [1, 2] + [3] }} {{ (1,) + (2,) }} {{ 'x' + 'y' }} {{ 1.5 + 1 }}",
    "{{ s[0] }}{{ s[-1] }}{{ s[1:4] }}|{{ s[::2] }}|{{ s[::-1] }}|{{ s[-3:] }}|{{ s[:100] }}|{{ s[100:] }}|{{ l[1:] }}|{{ l[::-1] }}|{{ l[5] is defined }}",
    "{{ u[0] }}{{ u[1] }}|{{ u[-3:] }}|{{ u|length }}|{{ u[::-1] }}",
    "{{ nested.a.b[1].c }}|{{ nested['a']['b'][0] }}|{{ nested.a.b.1.c }}|{{ l.0 }}|{{ nested.x is defined }}|{{ nested.a.x is undefined }}",
    "{{ d.items is callable }}{{ d['items'] is defined }}{{ d.items()|list }}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d.get('a') }}|{{ d.get('zz') }}|{{ d.get('zz', 7) }}",
    # --- comparisons and logic
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != 2 }} {{ none == none }} {{ undefined_var == none }}",
    "{{ 'ell' in s }} {{ 'zz' not in s }} {{ 2 in l }} {{ 'a' in d }} {{ 9 in l }} {{ 'x' in undefined_var }} {{ not 'a' in d }}",
    "{{ t and 'yes' }}|{{ fa and 'yes' }}|{{ fa or 'fallback' }}|{{ e or none }}|{{ 0 or [] or 'last' }}|{{ not e }}|{{ not not s }}",
    "{{ 'x' if t else 'y' }}|{{ 'x' if fa else 'y' }}|{{ 'x' if fa }}|{{ ('a' if fa else 'b') ~ 'c' }}|{{ 1 if none else 2 if t else 3 }}",
    "{{ true }}{{ True }}{{ false }}{{ False }}{{ none }}{{ None }}",
    # --- tests
    "{{ n is defined }} {{ undefined_var is defined }} {{ undefined_var is undefined }} {{ no is none }} {{ n is none }} {{ undefined_var is none }}",
    "{{ s is string }} {{ n is string }} {{ n is number }} {{ f is number }} {{ t is number }} {{ n is integer }} {{ f is float }} {{ t is integer }} {{ d is mapping }} {{ l is mapping }}",
    "{{ l is iterable }} {{ s is iterable }} {{ d is iterable }} {{ n is iterable }} {{ l is sequence }} {{ d is sequence }} {{ t is boolean }} {{ no is boolean }} {{ t is true }} {{ 1 is true }} {{ fa is false }} {{ 0 is false }}",
    "{{ n is odd }} {{ n is even }} {{ 10 is divisibleby 5 }} {{ 10 is divisibleby(3) }} {{ s is equalto 'Hello World' }} {{ n is eq 5 }} {{ n is ne 5 }} {{ n is gt 4 }} {{ n is lt 4 }} {{ n is ge 5 }} {{ n is le 4 }} {{ n is greaterthan 1 }} {{ n is lessthan 9 }}",
    "{{ 2 is in l }} {{ 'x' is in 'xyz' }} {{ 'abc' is lower }} {{ 'aBc' is lower }} {{ 'ABC' is upper }} {{ no is sameas none }} {{ t is sameas true }} {{ range is callable }} {{ s is callable }}",
    "{{ n is not defined }} {{ n is not none }} {{ not n is none }} {{ 'upper' is filter }} {{ 'nope' is filter }} {{ 'odd' is test }}",
    # --- if / elif / else
    "{% if n > 3 %}big{% elif n > 1 %}mid{% else %}small{% endif %}|{% if z %}a{% elif e %}b{% else %}c{% endif %}|{% if undefined_var %}u{% endif %}",
    "{% if n %}{% if s %}both{% endif %}{% endif %}",
    # --- for loops
    "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }},{% endfor %}",
    "{% for x in l %}{{ loop.previtem is defined }}:{{ loop.previtem }}:{{ loop.nextitem }};{% endfor %}",
    "{% for x in l %}{{ loop.cycle('odd', 'even') }}{% endfor %}",
    "{% for x in [] %}never{% else %}empty{% endfor %}|{% for x in undefined_var %}no{% else %}undef-empty{% endfor %}|{% for x in l %}{{ x }}{% else %}no{% endfor %}",
    "{% for x in range(10) if x is odd %}{{ x }}{{ loop.index }}{{ loop.length }},{% endfor %}",
    "{% for a, b in [(1, 2), (3, 4)] %}{{ a }}+{{ b }};{% endfor %}|{% for (a, b) in [[5, 6]] %}{{ a * b }}{% endfor %}",
    "{% for m in messages %}{{ m.role }}:{{ m['content'] }}|{% endfor %}",
    "{% for c in 'aé' %}[{{ c }}]{% endfor %}",
    "{% for x in range(5) %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}|{% for x in range(5) %}{% if x is even %}{% continue %}{% endif %}{{ x }}{% endfor %}",
    "{% for x in [1, 2] %}{% for y in 'ab' %}{{ loop.index }}{{ x }}{{ y }} {% endfor %}{{ loop.index }};{% endfor %}",
    "{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(2, 8, 2) %}{{ i }}{% endfor %}{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}{{ range(3)|list }}{{ range(0)|list }}",
    # --- scoping
    "{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = i + 10 %}{{ x }},{% endfor %}{{ x }}",
    "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}",
    "{% set ns = namespace(count=0, items=[]) %}{% for m in messages %}{% set ns.count = ns.count + 1 %}{% set ns.items = ns.items + [m.role] %}{% endfor %}{{ ns.count }} {{ ns.items }}",
    "{% set ns = namespace() %}{% set ns.a = 5 %}{{ ns.a }}{{ ns.b is defined }}{% set ns2 = namespace({'k': 1}, j=2) %}{{ ns2.k }}{{ ns2.j }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set (c, d2) = ['x', 'y'] %}{{ c }}{{ d2 }}",
    "{% set t1 = 1, 2 %}{{ t1 }}",
    "{% set block %}inner {{ n }} text{% endset %}[{{ block }}]",
    "{% set up | upper %}shout {{ s }}{% endset %}{{ up }}",
    "{% with a = 3, b = n %}{{ a + b }}{% endwith %}{{ a is defined }}",
    "{% set messages = [] %}{{ messages|length }}",
    # --- macros and call blocks
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet(greeting='Yo', name='Cy') }}",
    "{% macro m(a, b=a * 2) %}{{ a }}/{{ b }}{% endmacro %}{{ m(3) }} {{ m(1, 1) }}",
    "{% macro m() %}{{ varargs }}|{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
    "{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inside {{ n }}{% endcall %}",
    "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) each([1, 2]) %}[{{ x }}]{% endcall %}",
    "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(4) }}",
    "{% set g = 'global' %}{% macro show() %}{{ g }}{% endmacro %}{{ show() }}",
    "{% macro m(x) %}{{ x is defined }}{% endmacro %}{{ m() }}",
    # --- filters
    "{{ s|length }} {{ l|length }} {{ d|length }} {{ s|count }} {{ undefined_var|length }} {{ e|length }}",
    "{{ ws|trim }}|{{ 'xxaxx'|trim('x') }}|{{ s|upper }}|{{ s|lower }}|{{ 'hello wORLD-foo(bar)'|title }}|{{ \"don't stop\"|title }}|{{ 'hELLO'|capitalize }}",
    "{{ u|upper }}|{{ u|lower }}|{{ u|title }}|{{ u|capitalize }}",
    "{{ l|join }}|{{ l|join(', ') }}|{{ users|join(', ', attribute='name') }}|{{ [none, 1, 'a']|join('-') }}",
    "{{ undefined_var|default('dflt') }}|{{ e|default('dflt') }}|{{ e|default('dflt', true) }}|{{ no|d('x') }}|{{ n|default(0) }}|{{ undefined_var|d }}",
    "{{ l|first }}|{{ l|last }}|{{ s|first }}|{{ s|last }}|{{ []|first is defined }}|{{ d|first }}",
    "{{ l|list }}|{{ s|list }}|{{ d|list }}|{{ n|string }}|{{ l|string }}|{{ none|string }}|{{ '12'|int + 1 }}|{{ '3.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(-1) }}|{{ 3.9|int }}|{{ '0x1A'|int(0, 16) }}|{{ 'ff'|int(base=16) }}",
    "{{ '2.5'|float }}|{{ 'nan'|float }}|{{ 'x'|float }}|{{ 3|float }}|{{ neg|abs }}|{{ -2.5|abs }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.1|round(0, 'ceil') }}|{{ 2.9|round(method='floor') }}|{{ 7|round }}",
    "{{ 'aaa'|replace('a', 'b') }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|replace('', '-') }}|{{ s|replace('World', 'There') }}",
    "{{ d|items|list }}|{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}|{{ undefined_var|items|list }}",
    "{{ d|dictsort }}|{{ d|dictsort(true) }}|{{ d|dictsort(by='value') }}|{{ d|dictsort(reverse=true) }}",
    "{{ users|selectattr('role', 'equalto', 'user')|map(attribute='name')|list }}|{{ users|rejectattr('role', 'equalto', 'user')|list|length }}|{{ users|selectattr('extra')|list }}|{{ users|selectattr('extra', 'none')|list|length }}",
    "{{ users|selectattr('age', '>', 1)|map(attribute='name')|join }}|{{ users|selectattr('role', '==', 'assistant')|list|length }}|{{ users|map(attribute='tags.0', default='-')|list }}",
    "{{ l|select('odd')|list }}|{{ l|reject('odd')|list }}|{{ [0, 1, '', 'a', none]|select|list }}|{{ l|select('greaterthan', 1)|list }}|{{ sl|select('in', ['a', 'b'])|list }}",
    "{{ sl|map('upper')|list }}|{{ l|map('string')|join('+') }}|{{ ['a,b', 'c']|map('replace', ',', ';')|list }}|{{ [1.26, 2.5]|map('round', 1)|list }}",
    "{{ sl|unique|list }}|{{ sl|unique(case_sensitive=true)|list }}|{{ users|unique(attribute='role')|map(attribute='name')|list }}",
    "{{ l|sort }}|{{ sl|sort }}|{{ sl|sort(case_sensitive=true) }}|{{ sl|sort(reverse=true) }}|{{ users|sort(attribute='age')|map(attribute='name')|join }}|{{ users|sort(attribute='role,age')|map(attribute='name')|join }}",
    "{{ l|reverse|list }}|{{ s|reverse }}|{{ l|max }}|{{ l|min }}|{{ sl|max }}|{{ sl|min(case_sensitive=true) }}|{{ users|max(attribute='age')|attr('name') }}|{{ []|max is defined }}",
    "{{ l|sum }}|{{ users|sum(attribute='age') }}|{{ [1.5, 2]|sum(start=10) }}",
    "{{ ml|indent }}|{{ ml|indent(2, true) }}|{{ ml|indent('> ', first=true, blank=true) }}|{{ 'one'|indent(3, true) }}",
    "{{ 'a b  c\\nd'|wordcount }}|{{ u|wordcount }}|{{ '<a href=\"x\">&\\'</a>'|e }}|{{ '<b>'|escape }}|{{ '<b>'|safe }}|{{ 5|safe }}",
    "{{ 'abc'|center(9) }}|{{ 'abcd'|center(9) }}|{{ 'x'|center(4) }}",
    "{{ '%s is %d years'|format('Ann', 30) }}|{{ '%(a)s-%(b)05.1f'|format(a='x', b=2.25) }}|{{ '%5s|%-5s|%x|%o|%e|%g|%%|%r'|format('ab', 'cd', 255, 8, 12345.678, 0.0001, 'q') }}",
    "{{ 'hello world foo bar'|truncate(11) }}|{{ 'hello world foo bar'|truncate(11, true) }}|{{ 'hello world foo bar'|truncate(9, false, '..', 0) }}|{{ 'short'|truncate(9) }}",
    "{{ range(7)|batch(3)|list }}|{{ range(5)|batch(2, 'x')|list }}",
    "{{ d|attr('items') is defined }}|{{ d|attr('a') is defined }}|{{ users[0]|attr('name') is defined }}",
    # --- tojson (transformers' version)
    "{{ j|tojson }}",
    "{{ j|tojson(indent=2) }}",
    "{{ j|tojson(indent=0) }}|{{ j|tojson(sort_keys=true) }}|{{ d|tojson(separators=(',', ':')) }}|{{ 'é'|tojson(ensure_ascii=true) }}|{{ '😀'|tojson(true) }}",
    "{{ tools|tojson(indent=4) }}",
    "{{ [1, 2.0, 1e100, -0.0, 3.14159]|tojson }}|{{ none|tojson }}|{{ true|tojson }}|{{ 'x'|tojson }}|{{ {1: 'a', none: 'b', true: 'c', 2.5: 'd'}|tojson }}|{{ (1, 2)|tojson }}",
    # --- string methods
    "{{ ws.strip() }}|{{ ws.lstrip() }}|{{ ws.rstrip() }}|{{ 'xyxhixy'.strip('xy') }}|{{ '\\n\\nabc\\n'.lstrip('\\n') }}|{{ 'abc..'.rstrip('.') }}",
    "{{ 'a,b,,c'.split(',') }}|{{ '  a  b c  '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ '  a  b  '.rsplit(none, 1) }}|{{ ml.splitlines() }}|{{ 'x\\ny\\n'.splitlines(true) }}",
    "{{ s.startswith('Hell') }} {{ s.startswith(('x', 'He')) }} {{ s.endswith('ld') }} {{ s.startswith('World', 6) }} {{ s.endswith('Hello', 0, 5) }}",
    "{{ s.replace('l', 'L') }}|{{ s.replace('l', 'L', 1) }}|{{ s.upper() }}|{{ s.lower() }}|{{ 'hello world'.title() }}|{{ \"they're bill's 3rd\".title() }}|{{ 'hELLO'.capitalize() }}|{{ s.swapcase() }}",
    "{{ s.find('o') }} {{ s.rfind('o') }} {{ s.find('zz') }} {{ s.index('W') }} {{ s.count('l') }} {{ u.find('w') }} {{ s.find('o', 5) }}",
    "{{ '-'.join(['a', 'b', 'c']) }}|{{ ''.join(sl) }}|{{ ', '.join(d) }}",
    "{{ '{} and {}'.format('x', 'y') }}|{{ '{1}{0}{1}'.format('a', 'b') }}|{{ '{name}: {v:>5}|{v:<4}|{v:^6}|{p:.2f}|{p:08.3f}|{n:+d}|{h:x}|{{lit}}'.format(name='k', v='ab', p=3.14159, n=5, h=255) }}|{{ '{0!r}'.format('q') }}",
    "{{ '42'.isdigit() }} {{ 'a1'.isdigit() }} {{ 'abc'.isalpha() }} {{ 'a1'.isalnum() }} {{ '  '.isspace() }} {{ 'abc'.islower() }} {{ 'Abc'.isupper() }} {{ 'Hello World'.istitle() }} {{ ''.isdigit() }}",
    "{{ '7'.zfill(3) }}|{{ '-7'.zfill(4) }}|{{ 'ab'.center(6, '*') }}|{{ 'ab'.ljust(4, '.') }}|{{ 'ab'.rjust(4) }}|{{ 'a=b=c'.partition('=') }}|{{ 'a=b=c'.rpartition('=') }}|{{ 'prefix-x'.removeprefix('prefix-') }}|{{ 'x.py'.removesuffix('.py') }}",
    "{{ code.split('\\n')[0] }}|{{ code.strip().split('\\n')|length }}|{{ (code|trim).endswith('2') }}",
    # --- whitespace control
    "a\n{% if true %}\nb\n{% endif %}\nc",
    "a\n  {% if true %}\n  b\n  {% endif %}\nc",
    "a\n  {%- if true %}\n  b\n  {%- endif %}\nc",
    "a\n  {% if true -%}\n  b\n  {% endif -%}\n  c",
    "a  {{- ' x ' -}}  b\n{{ 'y' }}\n",
    "  {% if true %}x{% endif %}",
    "line\n\t {% for x in l %}\n\t {{ x }}\n\t {% endfor %}\nend",
    "x{# comment #}\ny\n{# line comment #}\nz\n  {#- stripped -#}  w",
    "a{%+ if true %}\n b{% endif +%}\nc",
    "  {%+ if true %}kept{% endif %}",
    "{% raw %}{{ not rendered }} {% if %}{% endraw %}|{%- raw -%}  {{ x }}  {%- endraw -%}  |",
    "trailing newline kept once\n\n",
    "windows\r\nnewlines\r\n{% if true %}\r\nx\r\n{% endif %}\r\n",
    "{{ 'a' }}\n{{ 'b' }}\n",
    "{% for m in messages %}\n  {{- m.role }}\n{% endfor %}",
    "{%- for m in messages -%}\n    {{ m.role }}\n{%- endfor -%}",
    "{{-1}}|{{ - 1 }}",
    # --- generation tag (transformers' AssistantTracker)
    "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}",
    # --- globals
    "{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B %d, %Y') }}",
    "{{ dict(a=1, b='x') }}|{{ dict([('k', 2)]) }}|{{ namespace(a=1).a }}",
    # --- more edge cases
    "{{ {'a': {'b': 1}} }}|{{ {'a': [1, {'b': {}}]}['a'][1] }}",
    "{{ -0.0 }} {{ 1e15 }} {{ 123456789012345678 }} {{ 1.5e-10 }} {{ 0.1 * 3 }} {{ 100.0 }} {{ 1e300 * 1e10 }} {{ 2.0 ** 0.5 }} {{ 1/3 }} {{ 2/3 }} {{ 1e16 + 1 }}",
    "{{ ['a\\nb', \"it's\", 'q\"', '\\\\', 'both\\'\"', '\\x07', 'é\\u200b'] }}",
    "{{ {'k': none, 1: true, 2.5: 'x', (1, 2): [3]} }}",
    "{{ 1.0|string }}|{{ 3|float|string }}|{{ 10|round(-1) }}|{{ 15|round(-1) }}|{{ 25|round(-1) }}|{{ 2.5|round|int }}|{{ 1234.5678|round(-2) }}",
    "{{ loop is defined }}|{{ none|default('x') }}|{{ undefined_var|default(none) is none }}|{{ (undefined_var or 'o') }}",
    "{{ messages|selectattr('role', 'in', ['user', 'system'])|list|length }}|{{ messages|map(attribute='role')|unique|list }}|{{ (messages|last).content }}|{{ (messages[1:]|first).role }}",
    "{{ {'a': 1, 'b': 2} == {'b': 2, 'a': 1} }} {{ {'a': 1} == {'a': 1.0} }} {{ [1, [2]] == [1, [2]] }} {{ 'ab' < 'abc' }} {{ (1, 2) == [1, 2] }} {{ (1, 2) == (1, 2) }} {{ 1 == true }} {{ 'a' == 'a ' }}",
    "{{ range(3)|reverse|join }}|{{ 'Hello'|list|join('|') }}|{{ '%.2f'|format(3.14159) }}|{{ '%s'|format([1, 'a']) }}|{{ 'x%sy' % 'z' }}|{{ '%d-%d' % (1, 2) }}|{{ '%s' % none }}|{{ '%5.1f%%' % 12.345 }}",
    "{% if true %}  \n{% endif %}|{% if true %}\n  x\n{% endif %}|",
    "abc  {% if true %}x{% endif %} y",
    "  {# c #}\nx\n\t{# tab #}\ny",
    "  {{ 'v' }}\n  {{ 'w' }}",
    "{% set x = 1 %}\n\n{{ x }}",
    "a\rb\r\n{% if true %}\rc{% endif %}",
    "x\n\n",
    "{%- if true -%}   spaced   {%- endif -%}  tail",
    "{% for m in messages %}{% if loop.first %}[{% endif %}{{ m.role[0] }}{% if not loop.last %},{% else %}]{% endif %}{% endfor %}",
    "{% macro outer(x) %}({{ caller(x * 2) }}){% endmacro %}{% macro inner(*args) %}{{ args }}{% endmacro %}{% call(y) outer(3) %}{{ y }}{% endcall %}",
    "{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'system' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
    "{% for x in l|sort %}{{ x }}{% endfor %}|{% for k in d|dictsort %}{{ k[0] }}{% endfor %}|{% for i, m in messages|batch(2)|first %}{{ m.role }}{% endfor %}",
    "{{ messages[0].content.split(' ')|map('capitalize')|join(' ') }}|{{ (messages|map(attribute='content')|join(' '))|wordcount }}",
    "{{ s|replace(' ', '\\n')|indent(2) }}",
    "{{ 'a' if undefined_var is defined and undefined_var.x else 'b' }}",
    "{{ tools|map(attribute='function')|map(attribute='name')|join(', ') }}|{{ tools[0].function.parameters.properties|dictsort|map('first')|join }}|{{ tools[0]['function']['parameters']['required'] }}",
    "{%- set sys = messages[0]['content'] if messages[0]['role'] == 'system' else '' -%}\n{{ sys | length }}",
    "{% for m in messages if m.role != 'system' %}{{ loop.index }}:{{ m.role }}{{ ',' if not loop.last }}{% endfor %}",
    "{{ 'Dear %s, you owe %s' | format('Bob', 2.5) }}|{{ '{0:>6}|{0:<6}|{0:^7}'.format('ab') }}",
    "{{ ((1, 2), 3)[0][1] }}|{{ [[1, 2], [3]]|sum(start=[]) }}",
    "{{ 'ab\\u00e9' | tojson }}|{{ 'tab\\there' | tojson }}|{{ '\\u2028' | tojson }}|{{ {'a': '</script>'} | tojson }}",
    # --- generators (map/select/... are lazy in jinja2), and other Python details
    "{{ 'yes' if [] | select('odd') else 'no' }}|{{ l|map('string')|first }}|{% set g = l|select('odd') %}{{ g|list }}{{ g|list }}|{{ l|select('odd')|reverse }}|{{ (l|map('upper')) is sequence }}",
    "{{ n|items is defined }}|{{ n|select('odd') is iterable }}|{{ ml|map('nope_not_consumed') is defined }}",
    "{{ 'ab'|truncate(5) }}|{{ l|truncate(5) }}|{{ undefined_var|truncate(3) is defined }}",
    "{{ '%s|' % undefined_var }}{{ 'plain' % undefined_var }}|{{ undefined_var is callable }}|{{ l[1:] is sequence }}",
    # --- errors (every one must fail)
    ("{{ raise_exception('boom') }}", None),
    ("{% if %}", None),
    ("{% for x in %}{% endfor %}", None),
    ("{% if true %}unclosed", None),
    ("{% endif %}", None),
    ("{{ x | no_such_filter }}", None),
    ("{{ x is no_such_test }}", None),
    ("{% include 'other.j2' %}", None),
    ("{% extends 'base' %}", None),
    ("{{ undefined_var.attr }}", None),
    ("{{ undefined_var + 1 }}", None),
    ("{{ 'a' + 1 }}", None),
    ("{{ 1 / 0 }}", None),
    ("{{ undefined_var() }}", None),
    ("{{ s() }}", None),
    ("{{ n|length }}", None),
    ("{{ undefined_var|tojson }}", None),
    ("{% set ns = 5 %}{% set ns.x = 1 %}", None),
    ("{% for a, b in [1, 2] %}{% endfor %}", None),
    ("{{ 'x' ~ }}", None),
    ("{{ 'unterminated }}", None),
    ("{{ (1, 2 }}", None),
    ("{% break %}", None),
    ("{# never closed", None),
    ("{{ range(1000000) }}", None),
    ("{{ 1 < 'a' }}", None),
    ("{{ 3 in 'abc' }}", None),
    ("{{ l[::0] }}", None),
    ("{{ 'x'|indent|unknownfilter }}", None),
    ("{{ n|items|list }}", None),
    ("{{ n|indent }}", None),
    ("{{ l|truncate(1) }}", None),
    ("{{ no[::-1] }}", None),
    ("{{ d[1:] }}", None),
    ("{{ n[1:] }}", None),
    ("{{ l['a':] }}", None),
    ("{{ f|truncate(5) }}", None),
    ("{{ l|map('upper')|length }}", None),
    ("{{ '%(k)s' % undefined_var }}", None),
    # --- contexts of their own
    ("{{ messages[0]['role'] }}{{ messages[-1].content }}", {"messages": NO_SYSTEM}),
    ("{% for m in messages %}{{ m.content|trim }}|{% endfor %}", {"messages": TOOL_CONV}),
    ("{{ messages[2].tool_calls[0].function.arguments|tojson }}|{{ messages[2].content is none }}|{{ messages[2]['content'] }}", {"messages": TOOL_CONV}),
]


def chat_templates():
    out = {}
    d = os.path.join(HERE, "chat_templates")
    for name in sorted(os.listdir(d)):
        if name.endswith(".jinja"):
            with open(os.path.join(d, name), encoding="utf-8", newline="") as f:
                out[name] = f.read()
    return out


TEMPLATE_CONTEXTS = [
    ("std+gen", {"messages": STD, "add_generation_prompt": True, "bos_token": "<s>", "eos_token": "</s>"}),
    ("std", {"messages": STD, "add_generation_prompt": False, "bos_token": "<s>", "eos_token": "</s>"}),
    ("nosys+gen", {"messages": NO_SYSTEM, "add_generation_prompt": True, "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
    ("tools+gen", {"messages": TOOL_CONV, "tools": TOOLS, "add_generation_prompt": True, "bos_token": "<s>", "eos_token": "</s>"}),
    ("think", {"messages": THINK_CONV, "add_generation_prompt": True, "enable_thinking": False, "bos_token": "", "eos_token": ""}),
]


def snippet_cases():
    out = []
    for i, item in enumerate(SNIPPETS):
        tmpl, override = (item, None) if isinstance(item, str) else item
        ctx = dict(CTX)
        if override:
            ctx.update(override)
        case = {"name": f"snippet_{i:03d}", "template": tmpl}
        if override:
            case["context"] = override
        case.update(render(tmpl, ctx))
        out.append(case)
    return out


def template_cases(templates):
    out = []
    for fname, src in templates.items():
        for cname, ctx in TEMPLATE_CONTEXTS:
            case = {"name": f"{fname}:{cname}", "file": fname, "context": ctx}
            case.update(render(src, ctx))
            out.append(case)
    return out


# --- ChatTemplate semantics ---------------------------------------------------------------------
USER_NEEDLE = "<User Needle>"
SYS_NEEDLE = "<System Needle>"


def raw_render(src, messages, add_generation_prompt, bos, eos, tools=None, extra=None):
    ctx = {"messages": messages, "add_generation_prompt": add_generation_prompt, "bos_token": bos, "eos_token": eos}
    if tools is not None:
        ctx["tools"] = tools
    if extra:
        ctx.update(extra)
    return ENV.from_string(src).render(**ctx)


def try_raw(src, messages):
    try:
        return raw_render(src, messages, False, "", "")
    except Exception:  # noqa: BLE001
        return ""


def capabilities(src):
    """What llama.cpp's minja probes when it loads a template (ChatTemplate::probe_capabilities)."""
    str_user = {"role": "user", "content": USER_NEEDLE}
    typed_user = {"role": "user", "content": [{"type": "text", "text": USER_NEEDLE}]}
    typed = USER_NEEDLE not in try_raw(src, [str_user]) and USER_NEEDLE in try_raw(src, [typed_user])
    user = typed_user if typed else str_user
    sys_msg = {"role": "system", "content": [{"type": "text", "text": SYS_NEEDLE}] if typed else SYS_NEEDLE}
    supports_system = SYS_NEEDLE in try_raw(src, [sys_msg, user])

    def with_content(c):
        a = {"role": "assistant", "content": c}
        return try_raw(src, [user, a, user, a])

    non_null = USER_NEEDLE in with_content("") and USER_NEEDLE not in with_content(None)
    args = {"argument_needle": "print('Hello, World!')"}

    def renders(arguments):
        call = {"id": "call_1___", "type": "function", "function": {"arguments": arguments, "name": "ipython"}}
        msg = {"role": "assistant", "content": "" if non_null else None, "tool_calls": [call]}
        out = try_raw(src, [user, msg])
        return ("<parameter=argument_needle>" in out or '"argument_needle"' in out or "'argument_needle':" in out
                or ">argument_needle<" in out)

    object_arguments = not renders(json.dumps(args, separators=(",", ":"))) and renders(args)
    return typed, supports_system, object_arguments


def chat_apply(src, messages, add_generation_prompt, bos, eos, tools=None):
    """What ChatTemplate::render produces (llama.cpp's --jinja behaviour): a template that cannot
    show a system message gets it merged into the next user message, string tool-call arguments
    become objects for templates that only render objects, typed-content templates get typed
    parts, and the leading BOS and trailing EOS are removed because the tokenizer adds them."""
    typed, supports_system, object_arguments = capabilities(src)
    has_string_content = any(isinstance(m.get("content"), str) for m in messages)
    has_tool_calls = any(m.get("tool_calls") is not None for m in messages)
    fix_arguments = object_arguments and has_tool_calls
    if not supports_system or (typed and has_string_content) or fix_arguments:
        actual = []
        pending = ""

        def add(msg):
            if typed and isinstance(msg.get("content"), str):
                actual.append({"role": msg["role"], "content": [{"type": "text", "text": msg["content"]}]})
            else:
                actual.append(msg)

        for m in messages:
            m = json.loads(json.dumps(m))
            if fix_arguments and isinstance(m.get("tool_calls"), list):
                for call in m["tool_calls"]:
                    if isinstance(call, dict) and call.get("type") == "function" and isinstance(call.get("function"), dict):
                        a = call["function"].get("arguments")
                        if isinstance(a, str):
                            try:
                                call["function"]["arguments"] = json.loads(a)
                            except ValueError:
                                pass
            if not supports_system and isinstance(m.get("content"), str):
                if m["role"] == "system":
                    pending = pending + "\n" + m["content"] if pending else m["content"]
                    continue
                if m["role"] == "user":
                    if pending:
                        m["content"] = pending + ("\n" + m["content"] if m["content"] else "")
                        pending = ""
                elif pending:
                    add({"role": "user", "content": pending})
                    pending = ""
            add(m)
        if pending:
            add({"role": "user", "content": pending})
        messages = actual
    out = raw_render(src, messages, add_generation_prompt, bos, eos, tools)
    if bos and out.startswith(bos):
        out = out[len(bos):]
    if eos and out.endswith(eos):
        out = out[: -len(eos)]
    return out


def chat_cases(templates):
    out = []
    scenarios = [
        ("std", STD, True, "<s>", "</s>", None),
        ("std-nogen", STD, False, "<s>", "</s>", None),
        ("nosys", NO_SYSTEM, True, "<s>", "</s>", None),
        ("tools", TOOL_CONV, True, "", "", TOOLS),
        ("tools-openai-args", TOOL_CONV_STR, True, "", "", TOOLS),
    ]
    for fname, src in templates.items():
        typed, supports_system, object_arguments = capabilities(src)
        out.append({"name": f"{fname}:capabilities", "file": fname, "capabilities": {
            "requires_typed_content": typed, "supports_system_role": supports_system,
            "requires_object_arguments": object_arguments}})
        for sname, msgs, gen, bos, eos, tools in scenarios:
            case = {"name": f"{fname}:{sname}", "file": fname, "messages": msgs, "add_generation_prompt": gen,
                    "bos_token": bos, "eos_token": eos}
            if tools is not None:
                case["tools"] = tools
            try:
                case["expected"] = chat_apply(src, msgs, gen, bos, eos, tools)
            except Exception as e:  # noqa: BLE001
                case["error"] = type(e).__name__ + ": " + str(e)
            out.append(case)
    return out


def main():
    templates = chat_templates()
    doc = {
        "generator": "tests/tokenizer/jinja_golden_gen.py with jinja2 " + jinja2.__version__,
        "now_epoch": NOW_EPOCH,
        "default_context": CTX,
        "snippets": snippet_cases(),
        "templates": template_cases(templates),
        "chat": chat_cases(templates),
    }
    path = os.path.join(HERE, "jinja_golden.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_err = sum("error" in c for c in doc["snippets"])
    print(f"wrote {path}: {len(doc['snippets'])} snippets ({n_err} errors), {len(doc['templates'])} template renders, "
          f"{len(doc['chat'])} chat renders", file=sys.stderr)


if __name__ == "__main__":
    main()
