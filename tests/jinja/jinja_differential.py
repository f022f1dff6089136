#!/usr/bin/python3
"""Differential check of `lfm2 render` against Python jinja2 set up exactly as Hugging Face
transformers sets it up for apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, HF's tojson / raise_exception / strftime_now, {% generation %}).

Two corpora: (1) randomly generated conversations of the golden scenario kinds for every template
in shared/golden/chat/templates, (2) small templates exercising one Jinja feature each, rendered
over a fixed conversation. Both sides must agree byte for byte, or both must fail.

Test-only: needs python3-jinja2 (Debian package); exits 77 (CTest "skipped") without it."""

import argparse
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

try:
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("python3-jinja2 not installed; skipping")
    sys.exit(77)


class AssistantTracker(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def make_env():
    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def strftime_now(format):
        return datetime.datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


TEXTS = ["What's the weather in Paris?", "", "日本の首都はどこですか？", "Écris un haïku 🌊",
         "Line one\nLine two\n\nLine four", "  padded  ", 'He said "hi"', "it's", "a\\b\tc",
         "<think>secret</think>answer", "<think>x</think>\n\n  final  ", "ctrl\x01\x1b\x7f",
         "CONTINUE_FINAL_MESSAGE_TAG ", "Answer CONTINUE_FINAL_MESSAGE_TAG ", "\u00a0nbsp\u2028",
         "{\"a\": 1}", "%s %d {0}", "Σ ∫ √2 ≈ 1.414?"]
SCALARS = [0, 1, -7, 9007199254740993, 12345678901234567890, -0.0, 0.0, 0.1, 2.0, 1e-07, 1e+100,
           -1.5e-07, 3.141592653589793, 1e16, 123456789.125, True, False, None, "x", "it's",
           'q"uote', "", "日本", "two\nlines"]


def random_value(rng, depth=0):
    kind = rng.randrange(8 if depth < 2 else 4)
    if kind < 4:
        return rng.choice(SCALARS)
    if kind < 6:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(["a", "type", "items", "k k", "é", "nested", "get"]) + str(i):
            random_value(rng, depth + 1) for i in range(rng.randrange(4))}


def random_tool(rng):
    props = {}
    for i in range(rng.randrange(1, 4)):
        props["p%d" % i] = rng.choice([
            {"type": "string", "description": rng.choice(TEXTS)},
            {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "integer"}}}},
            {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
            {"type": ["string", "null"], "default": None},
            {"type": "number", "minimum": -0.0, "maximum": 1e+100, "default": 0.001}])
    function = {"name": rng.choice(["get_weather", "search_docs", "calc"]),
                "description": rng.choice(TEXTS),
                "parameters": {"type": "object", "properties": props, "required": ["p0"]}}
    return function if rng.random() < 0.5 else {"type": "function", "function": function}


def random_content(rng):
    kind = rng.randrange(10)
    if kind < 6:
        return rng.choice(TEXTS)
    if kind == 6:
        parts = []
        for _ in range(rng.randrange(3)):
            parts.append(rng.choice([{"type": "text", "text": rng.choice(TEXTS)}, {"type": "image"},
                                     {"type": "audio", "x": 1}]))
        return parts
    if kind == 7:
        return {"question": rng.choice(TEXTS), "n": rng.choice(SCALARS)}
    return rng.choice([5, 2.5, True, False, None, []])


def random_tool_call(rng):
    arguments = {("arg%d" % i): random_value(rng) for i in range(rng.randrange(4))}
    if rng.random() < 0.2:
        arguments = json.dumps(arguments)
    call = {"type": "function", "function": {"name": rng.choice(["set_alarm", "f"]),
                                             "arguments": arguments}}
    if rng.random() < 0.6:
        call["id"] = "call_%d" % rng.randrange(1000)
    return call


def random_conversation(rng):
    messages = []
    if rng.random() < 0.5:
        messages.append({"role": "system", "content": rng.choice(TEXTS)})
    for _ in range(rng.randrange(0, 5)):
        role = rng.choice(["user", "assistant", "tool", "user", "assistant", "function", "system"])
        message = {"role": role, "content": random_content(rng)}
        if role == "assistant" and rng.random() < 0.4:
            message["tool_calls"] = [random_tool_call(rng) for _ in range(rng.randrange(1, 3))]
            if rng.random() < 0.3:
                del message["content"]
        if role == "assistant" and rng.random() < 0.3:
            message["thinking"] = rng.choice(TEXTS)
        if role == "tool" and rng.random() < 0.5:
            message["tool_call_id"] = "call_1"
        messages.append(message)
    if not messages:
        messages.append({"role": "user", "content": rng.choice(TEXTS)})
    tools = None
    r = rng.random()
    if r < 0.4:
        tools = [random_tool(rng) for _ in range(rng.randrange(1, 4))]
    elif r < 0.5:
        tools = []
    return messages, tools, rng.random() < 0.7


FEATURE_TEMPLATES = r"""
{{ messages | length }}|{{ messages[0].role }}|{{ messages[-1]['content'] }}
{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }},{% endfor %}
{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined else '-' }}>{{ loop.nextitem.role if loop.nextitem else '-' }};{% endfor %}
{% for m in messages if m.role == 'user' %}{{ loop.index }}/{{ loop.length }}{% else %}none{% endfor %}
{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{{ m.role }}{% endfor %}
{% for m in messages %}{% if m.role == 'user' %}{% continue %}{% endif %}{{ m.role }}{% endfor %}
{% for k, v in messages[0].items() %}{{ k }}={{ v }};{% endfor %}
{% for k in messages[0] %}{{ k }},{% endfor %}{{ messages[0].keys() | list }}{{ messages[0].values() | list | length }}
{% set ns = namespace(n=0, s='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}{{ ns.n }}{{ ns.s }}
{% set x = 1 %}{% for m in messages %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}
{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }}{{ greet('b', '?') }}{{ greet(punct='.', name='c') }}
{% macro m(a, b=a ~ 'x') %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}{{ m(1, 2, 3, k=4) }}
{% macro outer() %}[{{ caller() }}]{% endmacro %}{% call outer() %}inner {{ messages | length }}{% endcall %}
{% filter upper %}shout {{ messages[0].role }}{% endfilter %}
{% set block %}  a{{ 1 }}b  {% endset %}[{{ block }}][{{ block | trim }}]
{% raw %}{{ not rendered }}{% endraw %}
{%- raw -%}   {{ x }}   {%- endraw -%}|
{{ none }}|{{ true }}|{{ false }}|{{ True }}{{ None }}|{{ 1.0 }}|{{ 1e-07 }}|{{ 1e100 }}|{{ -0.0 }}|{{ 10**20 }}|{{ 2**-1 }}
{{ [1, 'a', true, none, 1.5, [2], {'k': 'v'}] }}|{{ (1,) }}|{{ () }}|{{ (1, 'b') }}|{{ {} }}|{{ [] }}
{{ ["it's", 'x', 'q"', 'both\'"', 'tab\there', 'nl\n', 'é', '\x00\x1f\x7f'] }}
{{ [1, 'it\'s', none] | string }}|{{ none | string }}|{{ true | string }}|{{ 1.5e-07 | string }}
{{ messages | tojson }}
{{ tools | tojson }}|{{ tools | tojson(indent=2) }}
{{ {'b': 1, 'a': [1, 2.5, none, true, 'é\n"\\']} | tojson }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}
{{ {'a': [1, {'b': 2}], 'c': {}} | tojson(indent=2) }}|{{ [] | tojson(indent=4) }}|{{ 'é' | tojson(true) }}
{{ {'a': 1} | tojson(separators=(',', ':')) }}|{{ {'x': 'ctrl\x01\x1b'} | tojson }}|{{ 1e16 | tojson }}|{{ -0.0 | tojson }}
{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 / 4 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2.0 ** 0.5 }}
{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }} {{ 10 - 3 - 2 }} {{ 1 ~ 2 }} {{ 'a' ~ none ~ true }}
{{ 'abc' * 2 }}{{ [1] * 3 }}{{ 3 * 'x' }}{{ [1, 2] + [3] }}{{ 'a' + 'b' }}{{ true + true }}
{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1,2] < [1,3] }} {{ 'b' >= 'a' }} {{ none == none }}
{{ 'a' in 'cat' }} {{ 'x' not in 'cat' }} {{ 2 in [1,2] }} {{ 'role' in messages[0] }} {{ 'zz' in messages[0] }} {{ 1 in {1: 2} }}
{{ not true }} {{ not 0 and 1 }} {{ 0 or 'x' }} {{ '' or none or [] }} {{ 1 and 2 }} {{ none and 1 }}
{{ 'yes' if messages else 'no' }}|{{ 'a' if false }}|{{ ('a' if false) is defined }}|{{ 1 if 0 else 2 if 0 else 3 }}
{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 1 is number }}{{ true is number }}{{ true is integer }}{{ 1.0 is float }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is iterable }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}
{{ 1 is eq 1 }}{{ 1 is ne 2 }}{{ 2 is gt 1 }}{{ 2 is lt 1 }}{{ 2 is ge 2 }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ true is boolean }}{{ false is false }}{{ true is true }}{{ 2 is in [1, 2] }}{{ none is not none }}{{ 'upper' is filter }}{{ 'odd' is test }}
{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'Hello' | upper }}{{ 'Hello' | lower }}|{{ 'hello wORLD' | capitalize }}|{{ 'hello wORLD-foo(bar' | title }}
{{ 'a,b,,c'.split(',') }}{{ '  a  b '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a b c'.rsplit(' ', 1) }}{{ 'a\nb\r\nc'.splitlines() }}{{ ' x '.strip() }}{{ 'xyx'.strip('x') }}{{ '  x'.lstrip() }}{{ 'x  '.rstrip() }}
{{ 'hello'.startswith('he') }}{{ 'hello'.endswith(('lo', 'x')) }}{{ 'hello'.find('l') }}{{ 'hello'.rfind('l') }}{{ 'hello'.find('z') }}{{ 'hello'.count('l') }}{{ 'hello'.replace('l', 'L') }}{{ 'hello'.replace('l', 'L', 1) }}
{{ '-'.join(['a', 'b']) }}{{ 'ab'.upper() }}{{ 'AB'.lower() }}{{ "it's ok".title() }}{{ 'aB'.swapcase() }}{{ 'x'.center(5) }}|{{ 'x'.ljust(3, '.') }}{{ 'x'.rjust(3) }}{{ '42'.zfill(5) }}{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}
{{ '{} and {}'.format(1, 'b') }}{{ '{0}{0}{1}'.format('a', 'b') }}{{ '{x}-{y!r}'.format(x=1, y='s') }}{{ '{:>6}|{:<4}|{:^5}|{:.2f}|{:05d}|{:x}'.format('ab', 'c', 'm', 3.14159, 42, 255) }}
{{ '%s-%d-%05.2f-%r-%x-%%' % ('a', 3, 3.14159, 'q', 255) }}{{ '%s' % 'one' }}{{ '%(a)s+%(b)d' % {'a': 'x', 'b': 2} }}{{ '%.3e' % 12345.678 }}{{ '%g' % 0.00001 }}
{{ 'héllo'[1] }}{{ 'héllo'[-1] }}{{ 'héllo'[1:3] }}{{ 'héllo'[::-1] }}{{ 'hello'[::2] }}{{ [1,2,3,4][1:] }}{{ [1,2,3,4][:-1] }}{{ [1,2,3,4][::-2] }}{{ messages[1:] | length }}{{ 'abc'[10] }}{{ [1][5] }}
{{ 'héllo' | length }}{{ [1, 2] | count }}{{ {'a': 1} | length }}{{ 'a b  c' | wordcount }}{{ 'abc' | list }}{{ 'abc' | reverse }}{{ [1, 2] | reverse | list }}{{ [3, 1, 2] | sort }}{{ [3, 1, 2] | sort(reverse=true) }}{{ ['b', 'A', 'a'] | sort }}{{ ['b', 'A', 'a'] | sort(case_sensitive=true) }}
{{ [1, 2, 2, 1] | unique | list }}{{ ['a', 'A'] | unique | list }}{{ [1, 5, 3] | max }}{{ [1, 5, 3] | min }}{{ [1, 2] | sum }}{{ [1.5, 2] | sum }}{{ [] | first }}{{ [1, 2] | first }}{{ [1, 2] | last }}{{ 'abc' | first }}
{{ messages | map(attribute='role') | list }}{{ messages | map(attribute='role') | join(',') }}{{ messages | selectattr('role', 'equalto', 'user') | list | length }}{{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | list }}
{{ [1, 2, 3, 4] | select('odd') | list }}{{ [1, 2, 3, 4] | reject('even') | list }}{{ [0, 1, '', 'a'] | select | list }}{{ ['a', 'b'] | map('upper') | list }}{{ [1, 2, 3] | select('gt', 1) | list }}
{{ {'b': 2, 'a': 1} | dictsort }}{{ {'b': 2, 'a': 1} | dictsort(by='value', reverse=true) }}{{ {'b': 2, 'a': 1} | items | list }}{{ messages[0] | items | list | length }}
{{ undefined_thing | default('dflt') }}{{ none | default('dflt') }}{{ '' | default('dflt', true) }}{{ undefined_thing | d('d') }}{{ messages[0].missing | default('m') }}
{{ '42' | int + 1 }}{{ '4.7' | int }}{{ 'x' | int }}{{ 'x' | int(7) }}{{ 3.9 | int }}{{ '0x1A' | int(base=16) }}{{ '3.5' | float }}{{ 'x' | float }}{{ 2 | float }}{{ -3 | abs }}{{ -2.5 | abs }}
{{ 2.5 | round }}{{ 3.5 | round }}{{ 2.675 | round(2) }}{{ 7 | round }}{{ 1.234 | round(1, 'ceil') }}{{ 1.234 | round(1, 'floor') }}{{ -1.5 | round }}
{{ 'a\nb\n\nc' | indent }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent('> ', blank=true) }}|{{ 'x' | center(7) }}|{{ '<a href="x">&' | e }}|{{ '<b>' | safe }}
{{ 'the quick brown fox jumps' | truncate(12) }}|{{ 'the quick brown fox jumps over it' | truncate(12, true) }}|{{ 'short' | truncate(10) }}
{{ [1, 2, 3, 4, 5] | batch(2) | list }}{{ [1, 2, 3, 4, 5] | batch(2, 0) | list }}{{ [1, 2, 3, 4, 5] | slice(2) | list }}{{ '%s=%s' | format('a', 1) }}
{{ range(3) | list }}{{ range(1, 10, 3) | list }}{{ range(5, 0, -2) | list }}{{ dict(a=1, b='x') }}{{ namespace(a=1).a }}{% for i in range(3) %}{{ i }}{% endfor %}
{% set j = joiner(', ') %}{% for m in messages %}{{ j() }}{{ m.role }}{% endfor %}
{% for m in messages %}{{ loop.cycle('odd', 'even') }}{{ loop.changed(m.role) }}{% endfor %}
{% for a in [[1, 2], [3]] %}{% for b in a %}{{ loop.depth }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}
{% for item in [1, [2, [3, 4]], 5] recursive %}{% if item is iterable %}<{{ loop(item) }}>{% else %}{{ item }}@{{ loop.depth }}{% endif %}{% endfor %}
{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}
{% if messages[0].role == 'system' %}S{% elif messages[0].role == 'user' %}U{% else %}O{% endif %}
{{ messages[0].get('role') }}{{ messages[0].get('nope') }}{{ messages[0].get('nope', 'dflt') }}{{ messages[0]['role'] }}{{ messages[0].role.upper() }}
{{ messages[0]['nope'] is defined }}{{ messages[0].nope is defined }}{{ none.x is defined }}{{ 'abc'.nope is defined }}
{% generation %}{% set g = 1 %}gen{{ g }}{% endgeneration %}{{ g is defined }}
{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = 'xy' %}{{ c }}{{ d }}
{% print 'printed' %}{{ 'a' 'b' }}{{ "\u00e9\x41\101\n" }}{{ '\'' }}
{%- if true -%}
    stripped
{%- endif -%}
|
  {% if true %}
  indented line
  {% endif %}
  {{ 'var keeps indent' }}
{# comment #}
  {#- trimmed comment -#}
text {%+ if true %}plus{% endif +%}
end
{% for m in messages %}
  - {{ m.role }}
{% endfor %}
{{- ' tight ' -}}   after
{{ raise_exception('boom') if messages | length > 100 else 'ok' }}
{{ raise_exception('template error message') }}
{{ undefined_thing.attr }}
{{ undefined_thing + 1 }}
{{ 'a' + 1 }}
{{ 1 / 0 }}
{{ [1, 2] | tojson }}{{ undefined_thing | tojson }}
{{ messages.append(1) }}
{% for x in 5 %}{% endfor %}
{% set a, b = [1, 2, 3] %}
{{ range(200000) | length }}
{{ 'x' * 10 }}{{ messages[0] | attr('role') }}{{ messages[0] | attr('items') is defined }}
{{ {'a': 1}.items() }}{{ {'a': 1}.keys() }}{{ {'a': 1}.values() }}{{ loop }}{{ namespace(a=[1, 'x']) }}
{{ 1 if true }}{{ [1, 2, 3] | join }}{{ [1, none, 'x'] | join('-') }}{{ messages | map(attribute='nope') | list }}
{{ '%s' % [1, 2] }}{{ '%s and %s' % (1, [2]) }}{{ '%5s|%-5s|%+d' % ('a', 'b', 3) }}
{{ 'ä'.upper() }}{{ 'ÄÖÜ'.lower() }}{{ 'ß' | length }}{{ '日本語'[1:] }}{{ 'ab' < 'b' }}{{ 'é' > 'z' }}
{{ 9007199254740993 }}{{ 12345678901234567890 }}{{ 0.1 + 0.2 }}{{ 1e22 }}{{ 1.5e-5 }}{{ 100000000000000000.0 }}{{ 123456789012345.678 }}
{{ messages }}|{{ messages[1] }}|{{ tools }}|{{ messages[1].extra }}|{{ messages[1] | string | length }}
{{ messages[0].content.split() | map('upper') | join(' ') }}{{ messages | map(attribute='content') | map('length') | sum }}{{ (messages | last).content[::-1] }}
{%- for m in messages %}{{- '\n' if not loop.first }}{{ loop.index }}. {{ m.role | capitalize }}: {{ m.content | trim }}{% endfor %}
{{ 3 == 3.0 }}{{ [1, 2] == [1, 2] }}{{ (1, 2) == [1, 2] }}{{ {'a': 1} == {'a': 1.0} }}{{ 'a' == 'a' }}{{ none != false }}
""".strip("\n").split("\n")


WHITESPACE = ["", " ", "  ", "\t", "\n", "\n\n", " \n ", "\n  ", "\t\n", "\r\n", "x", " y ", "\u00a0"]


def random_tag(rng, body):
    """A block/comment/variable tag with random whitespace-control modifiers."""
    left = rng.choice(["", "", "-", "+"])
    right = rng.choice(["", "", "-", "+"])
    return "{%" + left + " " + body + " " + right + "%}"


def random_whitespace_template(rng, depth=0):
    out = []
    for _ in range(rng.randrange(1, 6)):
        out.append(rng.choice(WHITESPACE))
        kind = rng.randrange(8)
        if kind == 0 and depth < 3:
            out.append(random_tag(rng, "if true"))
            out.append(random_whitespace_template(rng, depth + 1))
            if rng.random() < 0.3:
                out.append(random_tag(rng, "else"))
                out.append(random_whitespace_template(rng, depth + 1))
            out.append(random_tag(rng, "endif"))
        elif kind == 1 and depth < 3:
            out.append(random_tag(rng, "for i in [1, 2]"))
            out.append(random_whitespace_template(rng, depth + 1))
            out.append(random_tag(rng, "endfor"))
        elif kind == 2:
            left, right = rng.choice(["", "-"]), rng.choice(["", "-"])
            out.append("{{" + left + " 'v' " + right + "}}")
        elif kind == 3:
            left, right = rng.choice(["", "-", "+"]), rng.choice(["", "-", "+"])
            out.append("{#" + left + " c " + right + "#}")
        elif kind == 4:
            out.append(random_tag(rng, "set z = 1"))
        elif kind == 5:
            out.append("{%" + rng.choice(["", "-"]) + " raw " + rng.choice(["", "-"]) + "%}" +
                       rng.choice(WHITESPACE) + "{{ r }}" + rng.choice(WHITESPACE) +
                       "{%" + rng.choice(["", "-", "+"]) + " endraw " + rng.choice(["", "-", "+"]) + "%}")
        out.append(rng.choice(WHITESPACE))
    return "".join(out)


def render_python(env, source, messages, tools, add_generation_prompt, tokens):
    try:
        template = env.from_string(source)
        return True, template.render(messages=messages, tools=tools, documents=None,
                                     add_generation_prompt=add_generation_prompt, **tokens)
    except Exception as error:  # noqa: BLE001 - any failure counts as "both must fail"
        return False, "%s: %s" % (type(error).__name__, error)


class Runner:
    def __init__(self, lfm2, shared, work):
        self.lfm2 = lfm2
        self.shared = shared
        self.work = work
        self.count = 0
        with open(os.path.join(shared, "golden", "tokenizer", "tokenizer_config.json"),
                  encoding="utf-8") as f:
            config = json.load(f)
        self.tokens = {k: config[k] for k in ("bos_token", "eos_token", "pad_token") if k in config}

    def render_cli(self, source, messages, tools, add_generation_prompt):
        self.count += 1
        model = os.path.join(self.work, "m%d" % self.count)
        os.makedirs(model)
        shutil.copyfile(os.path.join(self.shared, "golden", "tokenizer", "tokenizer_config.json"),
                        os.path.join(model, "tokenizer_config.json"))
        with open(os.path.join(model, "chat_template.jinja"), "w", encoding="utf-8") as f:
            f.write(source)
        messages_path = os.path.join(model, "messages.json")
        with open(messages_path, "w", encoding="utf-8") as f:
            json.dump(messages, f, ensure_ascii=False)
        command = [self.lfm2, "render", "--model", model, "--messages", messages_path]
        if tools is not None:
            tools_path = os.path.join(model, "tools.json")
            with open(tools_path, "w", encoding="utf-8") as f:
                json.dump(tools, f, ensure_ascii=False)
            command += ["--tools", tools_path]
        if not add_generation_prompt:
            command.append("--no-generation-prompt")
        result = subprocess.run(command, capture_output=True, timeout=60)
        shutil.rmtree(model, ignore_errors=True)
        if result.returncode != 0:
            return False, result.stderr.decode("utf-8", errors="replace").strip()
        return True, result.stdout.decode("utf-8", errors="surrogateescape")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lfm2", required=True)
    parser.add_argument("--shared", default=os.environ.get("LFM2_SHARED_DIR", "/work/shared"))
    parser.add_argument("--conversations", type=int, default=40, help="random cases per template")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    env = make_env()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="lfm2_jinja_diff_")
    runner = Runner(args.lfm2, args.shared, work)
    failures = []
    checked = 0
    both_failed = []

    def check(label, source, messages, tools, add_generation_prompt):
        nonlocal checked
        # What a CLI reading JSON files sees: a JSON round trip.
        messages = json.loads(json.dumps(messages))
        tools = json.loads(json.dumps(tools))
        ok_py, out_py = render_python(env, source, messages, tools, add_generation_prompt,
                                      runner.tokens)
        ok_cc, out_cc = runner.render_cli(source, messages, tools, add_generation_prompt)
        checked += 1
        if not ok_py and not ok_cc:
            both_failed.append(label)
        if ok_py != ok_cc or (ok_py and out_py != out_cc):
            failures.append((label, source, messages, tools, ok_py, out_py, ok_cc, out_cc))

    try:
        template_dir = os.path.join(args.shared, "golden", "chat", "templates")
        for name in sorted(os.listdir(template_dir)):
            with open(os.path.join(template_dir, name), encoding="utf-8") as f:
                source = f.read()
            for i in range(args.conversations):
                messages, tools, add_generation_prompt = random_conversation(rng)
                check("%s#%d" % (name, i), source, messages, tools, add_generation_prompt)
        feature_messages = [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "Hi", "extra": [1, 2.5, None]},
                            {"role": "assistant", "content": "Hello", "tool_calls": []},
                            {"role": "user", "content": "日本"}]
        feature_tools = [{"name": "f", "parameters": {"type": "object", "properties": {}}}]
        for i, source in enumerate(FEATURE_TEMPLATES):
            check("feature#%d" % i, source, feature_messages, feature_tools, True)
        for i in range(args.conversations * 10):
            source = random_whitespace_template(rng) + rng.choice(["", "\n", "\n\n", "\r\n"])
            check("whitespace#%d" % i, source, [{"role": "user", "content": "x"}], None, True)
        whole = "\n".join(FEATURE_TEMPLATES[:FEATURE_TEMPLATES.index("{{ raise_exception('boom') if messages | length > 100 else 'ok' }}")])
        check("features-joined", whole, feature_messages, feature_tools, True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for label, source, messages, tools, ok_py, out_py, ok_cc, out_cc in failures:
        print("MISMATCH %s" % label)
        print("  template: %r" % source[:300])
        if not label.startswith("feature"):
            print("  messages: %s" % json.dumps(messages, ensure_ascii=False)[:600])
            print("  tools: %s" % json.dumps(tools, ensure_ascii=False)[:300])
        print("  python (%s): %r" % ("ok" if ok_py else "error", out_py[:600]))
        print("  lfm2   (%s): %r" % ("ok" if ok_cc else "error", out_cc[:600]))
    print("%d checked (%d fail on both sides as they should), %d mismatches"
          % (checked, len(both_failed), len(failures)))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
