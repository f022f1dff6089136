// tests/jinja/jinja_test.cc - the Jinja interpreter construct by construct: whitespace
// control as jinja2 applies it under trim_blocks + lstrip_blocks, scoping, loops, Python str/repr
// and number formatting, HF's tojson, filters, tests, methods, errors with line:column, limits.
// Expected strings were checked against Python jinja2 3.1 in HF's sandbox settings.
#include <gtest/gtest.h>

#include <string>

#include "jinja/interpreter.h"

namespace lfm2::jinja {
namespace {

StatusOr<std::string> TryRender(const std::string& source, const char* variables_json = "{}",
                                const RenderOptions& options = {}) {
  LFM2_ASSIGN_OR_RETURN(Template parsed, Template::Parse(source, "t.jinja"));
  std::vector<std::pair<std::string, Value>> variables;
  const Json json = Json::parse(variables_json);
  for (auto it = json.begin(); it != json.end(); ++it) {
    LFM2_ASSIGN_OR_RETURN(Value value, ValueFromJson(it.value()));
    variables.emplace_back(it.key(), std::move(value));
  }
  return parsed.Render(variables, options);
}

std::string Render(const std::string& source, const char* variables_json = "{}") {
  StatusOr<std::string> out = TryRender(source, variables_json);
  if (!out.ok()) return "ERROR: " + out.status().message();
  return *out;
}

std::string ErrorOf(const std::string& source, const char* variables_json = "{}",
                    const RenderOptions& options = {}) {
  StatusOr<std::string> out = TryRender(source, variables_json, options);
  return out.ok() ? "no error, got: " + *out : out.status().message();
}

TEST(JinjaWhitespace, TrimBlocksAndLstripBlocks) {
  EXPECT_EQ(Render("{% if true %}\nA\n{% endif %}\nB"), "A\nB");
  EXPECT_EQ(Render("  {% if true %}\n  A\n  {% endif %}\n"), "  A\n");
  EXPECT_EQ(Render("x  {% if true %}y{% endif %}"), "x  y");  // not at line start: kept
  EXPECT_EQ(Render("  {{ 'v' }}\n"), "  v");                  // never lstrip before {{
  EXPECT_EQ(Render("a\n  {# c #}\nb"), "a\nb");               // comments are blocks too
  EXPECT_EQ(Render("a  {%- if true -%}  \n b {%- endif %}"), "ab");
  EXPECT_EQ(Render("a\n  {%+ if true %}b{% endif +%}\nc"), "a\n  b\nc");
  EXPECT_EQ(Render("{{- ' x ' -}}  \n  y"), " x y");
  EXPECT_EQ(Render("\t{% for i in [1, 2] %}\n\t{{ i }}\n\t{% endfor %}\n"), "\t1\n\t2\n");
}

TEST(JinjaWhitespace, TrailingNewlineCrLfAndRaw) {
  EXPECT_EQ(Render("x\n"), "x");
  EXPECT_EQ(Render("x\n\n"), "x\n");
  EXPECT_EQ(Render("a\r\nb\rc\r\n"), "a\nb\nc");
  EXPECT_EQ(Render("{% raw %}\n{{ x }}{% endraw %}"), "\n{{ x }}");
  EXPECT_EQ(Render("{%- raw -%}  {% if %}  {%- endraw %}|"), "{% if %}|");
}

TEST(JinjaScoping, LoopsMacrosNamespacesGeneration) {
  EXPECT_EQ(Render("{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}|{% endfor %}{{ x }}"),
            "01|02|0");
  EXPECT_EQ(Render("{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }}"),
            "6");
  EXPECT_EQ(Render("{% macro m() %}{{ x }}{% endmacro %}{% set x = 1 %}{{ m() }}{% set x = 2 %}{{ m() }}"),
            "12");
  EXPECT_EQ(Render("{% generation %}{% set g = 1 %}{{ g }}{% endgeneration %}[{{ g }}]"), "1[]");
  EXPECT_EQ(Render("{% with a = 1 %}{{ a }}{% endwith %}[{{ a }}]"), "1[]");
  EXPECT_EQ(Render("{% if true %}{% set z = 3 %}{% endif %}{{ z }}"), "3");
  EXPECT_EQ(Render("{% set messages = messages[1:] %}{{ messages | length }}", R"({"messages": [1, 2, 3]})"),
            "2");
  EXPECT_EQ(Render("{% set x %}a{{ 1 }}b{% endset %}{{ x }}{% set y | upper %}q{% endset %}{{ y }}"),
            "a1bQ");
}

TEST(JinjaLoops, LoopVariablesElseBreakContinueRecursive) {
  EXPECT_EQ(Render("{% for i in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
                   "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }},{% endfor %}"),
            "10TrueFalse332,21FalseFalse321,32FalseTrue310,");
  EXPECT_EQ(Render("{% for i in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }},{% endfor %}"),
            "-2,1-3,2-,");
  EXPECT_EQ(Render("{% for i in [1, 2, 3] if i > 1 %}{{ loop.index }}/{{ loop.length }} {% endfor %}"),
            "1/2 2/2 ");
  EXPECT_EQ(Render("{% for i in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(Render("{% for i in [1, 2, 3] %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 3 %}"
                   "{% break %}{% endif %}{{ i }}{% else %}E{% endfor %}"),
            "1");
  EXPECT_EQ(Render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", R"({"d": {"b": 1, "a": 2}})"),
            "b=1;a=2;");
  EXPECT_EQ(Render("{% for x in [1, [2, [3]]] recursive %}{% if x is iterable %}({{ loop(x) }}){% else %}"
                   "{{ x }}@{{ loop.depth }}{% endif %}{% endfor %}"),
            "1@1(2@2(3@3))");
  EXPECT_EQ(Render("{% for i in [1, 2] %}{{ loop.cycle('a', 'b') }}{{ loop.changed(1) }}{% endfor %}"),
            "aTruebFalse");
}

TEST(JinjaValues, PythonStrAndRepr) {
  EXPECT_EQ(Render("{{ none }}|{{ true }}|{{ [none, true, 1.0, 'a', \"it's\", 'q\"', 'b\\'\"'] }}"),
            "None|True|[None, True, 1.0, 'a', \"it's\", 'q\"', 'b\\'\"']");
  EXPECT_EQ(Render("{{ {'a': [1, (2,)], 1: none} }}|{{ () }}|{{ (1, 2) }}"),
            "{'a': [1, (2,)], 1: None}|()|(1, 2)");
  EXPECT_EQ(Render("{{ ['\\n\\x01\\x7f\\xa0é\\t\\\\'] }}"), "['\\n\\x01\\x7f\\xa0é\\t\\\\']");
  EXPECT_EQ(Render("{{ x | string }}|{{ d.keys() }}|{{ d.items() }}", R"({"x": [1, "x", true, null], "d": {"k": 2}})"),
            "[1, 'x', True, None]|dict_keys(['k'])|dict_items([('k', 2)])");
  EXPECT_EQ(Render("{{ namespace(a=1) }}"), "<Namespace {'a': 1}>");
}

TEST(JinjaValues, NumberFormatting) {
  EXPECT_EQ(Render("{{ 1e-07 }} {{ 1e16 }} {{ 1e15 }} {{ 2.0 }} {{ -0.0 }} {{ 0.1 }} {{ 1e100 * 1e300 }} {{ 0.0001 }} {{ 0.00001 }}"),
            "1e-07 1e+16 1000000000000000.0 2.0 -0.0 0.1 inf 0.0001 1e-05");
  EXPECT_EQ(Render("{{ a }} {{ b }} {{ c }} {{ a + 1 }}", R"({"a": 12345678901234567890, "b": 9007199254740993, "c": -1.5e-07})"),
            "12345678901234567890 9007199254740993 -1.5e-07 12345678901234567891");
  EXPECT_EQ(Render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ 2 ** -1 }} {{ 10 ** 20 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }}"),
            "3 -4 2 1.5 1.5 2.0 0.5 100000000000000000000 4 64");
}

TEST(JinjaValues, ToJsonAsHuggingFace) {
  EXPECT_EQ(Render("{{ x | tojson }}", R"({"x": {"b": [1, 2.5, null, true], "a": "é\n\"\\/\u001b"}})"),
            "{\"b\": [1, 2.5, null, true], \"a\": \"é\\n\\\"\\\\/\\u001b\"}");
  EXPECT_EQ(Render("{{ x | tojson(indent=2) }}", R"({"x": {"a": [1], "b": {}}})"),
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}");
  EXPECT_EQ(Render("{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ 'é😀' | tojson(true) }}|{{ [1] | tojson(separators=(',', ':')) }}"),
            "{\"a\": 2, \"b\": 1}|\"\\u00e9\\ud83d\\ude00\"|[1]");
  EXPECT_EQ(Render("{{ x | tojson }}", R"({"x": [1e-07, 1e100, -0.0, 0.0, 12345678901234567890]})"),
            "[1e-07, 1e+100, -0.0, 0.0, 12345678901234567890]");
  EXPECT_NE(ErrorOf("{{ nope | tojson }}").find("Undefined is not JSON serializable"), std::string::npos);
}

TEST(JinjaFilters, CommonFilters) {
  EXPECT_EQ(Render("{{ '  a  ' | trim }}|{{ 'xax' | trim('x') }}|{{ 'héllo' | length }}|{{ 'ab' | upper }}|{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}"),
            "a|a|5|AB|Hello World|Hello");
  EXPECT_EQ(Render("{{ [3, 1, 2] | sort }}{{ ['b', 'A', 'a'] | sort }}{{ [1, 1, 2] | unique | list }}{{ [1, 2] | reverse | list }}{{ 'abc' | reverse }}"),
            "[1, 2, 3]['A', 'a', 'b'][1, 2][2, 1]cba");
  EXPECT_EQ(Render("{{ m | map(attribute='r') | join(',') }}|{{ m | selectattr('r', 'eq', 'u') | list | length }}|{{ [1, 2, 3] | select('odd') | list }}|{{ [1, 2, 3] | reject('gt', 1) | list }}",
                   R"({"m": [{"r": "u"}, {"r": "a"}, {"r": "u"}]})"),
            "u,a,u|2|[1, 3]|[1]");
  EXPECT_EQ(Render("{{ x | default('d') }}{{ none | default('d') }}{{ '' | d('e', true) }}{{ '42' | int + 1 }}{{ '4.7' | int }}{{ 'x' | int }}{{ '3.5' | float }}{{ -3 | abs }}"),
            "dNonee43403.53");
  EXPECT_EQ(Render("{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 5 | round }} {{ 1.21 | round(1, 'ceil') }}"),
            "2.0 4.0 2.67 5 1.3");
  EXPECT_EQ(Render("{{ {'b': 2, 'a': 1} | dictsort }}|{{ {'a': 1} | items | list }}|{{ [1, 2] | first }}{{ [1, 2] | last }}{{ [1, 2] | sum }}{{ [1, 5] | max }}{{ [1, 5] | min }}"),
            "[('a', 1), ('b', 2)]|[('a', 1)]|12351");
  EXPECT_EQ(Render("{{ 'a\nb' | indent(2, true) }}|{{ 'x' | center(5) }}|{{ '<&>' | e }}|{{ 'a b  c' | wordcount }}|{{ [1, 2, 3] | batch(2) | list }}|{{ '%s-%d' | format('a', 3) }}"),
            "  a\n  b|  x  |&lt;&amp;&gt;|3|[[1, 2], [3]]|a-3");
}

TEST(JinjaTests, IsTests) {
  EXPECT_EQ(Render("{{ x is defined }}{{ y is defined }}{{ none is none }}{{ true is number }}{{ true is integer }}"
                   "{{ 1.0 is float }}{{ 'a' is string }}{{ {} is mapping }}{{ 'a' is iterable }}{{ [] is sequence }}"
                   "{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'ab' is lower }}{{ 2 is in [1, 2] }}{{ 1 is not string }}",
                   R"({"x": 1})"),
            "TrueFalseTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue");
  EXPECT_EQ(Render("{{ d.missing is defined }}{{ d['k'] is defined }}{{ none.x is defined }}", R"({"d": {"k": 1}})"),
            "FalseTrueFalse");
}

TEST(JinjaMethods, StringDictListMethods) {
  EXPECT_EQ(Render("{{ 'a,b,,c'.split(',') }}{{ '  a  b '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a b c'.rsplit(' ', 1) }}"),
            "['a', 'b', '', 'c']['a', 'b']['a', 'b c']['a b', 'c']");
  EXPECT_EQ(Render("{{ ' x '.strip() }}{{ 'xyx'.strip('x') }}{{ 'hello'.startswith('he') }}{{ 'hello'.endswith(('x', 'lo')) }}"
                   "{{ 'hello'.find('l') }}{{ 'hello'.replace('l', 'L', 1) }}{{ '-'.join(['a', 'b']) }}{{ 'x</think>y'.split('</think>')[-1] }}"),
            "xyTrueTrue2heLlo" "a-by");
  EXPECT_EQ(Render("{{ '{} {:>4}|{:.2f}|{n}'.format(1, 'ab', 2.5, n='z') }}|{{ '%s-%05.1f-%x' % ('a', 3.14159, 255) }}"),
            "1   ab|2.50|z|a-003.1-ff");
  EXPECT_EQ(Render("{{ d.get('k') }}{{ d.get('z') }}{{ d.get('z', 0) }}{{ d.items() | list }}{{ [1, 2, 1].count(1) }}{{ [1, 2].index(2) }}",
                   R"({"d": {"k": 1}})"),
            "1None0[('k', 1)]21");
  EXPECT_EQ(Render("{{ 'héllo'[1] }}{{ 'héllo'[1:3] }}{{ 'hello'[::-1] }}{{ l[-1] }}{{ l[5] }}{{ l[1:] }}", R"({"l": [1, 2, 3]})"),
            "éélolleh3[2, 3]");
}

TEST(JinjaErrors, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_EQ(ErrorOf("{% if x %}\n  {% for i in y %}{% endif %}"),
            "t.jinja:2:22: expected 'endfor', got 'endif' ('for' opened at 2:6)");
  EXPECT_EQ(ErrorOf("line\n{{ 1 + }}"), "t.jinja:2:8: unexpected end of print statement");
  EXPECT_NE(ErrorOf("{% if true %}").find("t.jinja:1:14: unexpected end of template, expected 'endif'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{% break %}").find("'break' outside loop"), std::string::npos);
  EXPECT_NE(ErrorOf("{{ 'abc }}").find("t.jinja:1:4: unterminated string"), std::string::npos);
  EXPECT_NE(ErrorOf("{# open").find("t.jinja:1:1: missing end of comment"), std::string::npos);
  EXPECT_NE(ErrorOf("{% include 'x' %}").find("not supported"), std::string::npos);
}

TEST(JinjaErrors, RuntimeErrorsCarryLineAndColumn) {
  EXPECT_EQ(ErrorOf("\n  {{ nope.attr }}"), "t.jinja:2:10: UndefinedError: 'nope' is undefined");
  EXPECT_EQ(ErrorOf("{{ d.x.y }}", R"({"d": {}})"),
            "t.jinja:1:7: UndefinedError: 'dict object' has no attribute 'x'");
  EXPECT_EQ(ErrorOf("{{ 'a' + 1 }}"), "t.jinja:1:4: TypeError: can only concatenate str (not \"int\") to str");
  EXPECT_EQ(ErrorOf("{{ x | bogus }}"), "t.jinja:1:8: no filter named 'bogus'");
  EXPECT_EQ(ErrorOf("{{ nofunc() }}"), "t.jinja:1:4: UndefinedError: 'nofunc' is undefined");
  EXPECT_EQ(ErrorOf("{{ raise_exception('Roles must alternate') }}"), "t.jinja:1:4: Roles must alternate");
  EXPECT_NE(ErrorOf("{{ 1 / 0 }}").find("ZeroDivisionError"), std::string::npos);
  EXPECT_NE(ErrorOf("{{ l.append(1) }}", R"({"l": []})").find("unsafe"), std::string::npos);
  EXPECT_NE(ErrorOf("{% set a, b = [1, 2, 3] %}").find("too many values to unpack"), std::string::npos);
}

TEST(JinjaLimits, HostileTemplatesFailCleanly) {
  RenderOptions small;
  small.max_output_bytes = 1000;
  EXPECT_NE(ErrorOf("{% for i in range(100) %}{{ 'xxxxxxxxxxxxxxxxxxxx' }}{% endfor %}", "{}", small)
                .find("exceeds the limit"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{{ 'x' * 100000 }}", "{}", small).find("exceeds"), std::string::npos);
  RenderOptions few_loops;
  few_loops.max_loop_iterations = 1000;
  EXPECT_NE(ErrorOf("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", "{}", few_loops)
                .find("loop iterations"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested deeper"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{{ range(1000000) }}").find("Range too big"), std::string::npos);
  EXPECT_NE(ErrorOf("{{ 2 ** 100000 }}").find("OverflowError"), std::string::npos);
  EXPECT_NE(ErrorOf("{{ 10.0 ** 400 }}").find("OverflowError"), std::string::npos);
  EXPECT_NE(ErrorOf("{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}").find("nested deeper"), std::string::npos);
  EXPECT_NE(ErrorOf("{{ 1" + std::string(20000, '+') + "}}").find("t.jinja"), std::string::npos);
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_NE(ErrorOf(chain + " }}").find("nested deeper"), std::string::npos);
  // A namespace chain 100k deep must neither overflow the stack while rendering nor when freed.
  RenderOptions many;
  many.max_loop_iterations = 200000;
  StatusOr<std::string> out = TryRender(
      "{% set ns = namespace(cur=namespace()) %}{% for i in range(100000) %}"
      "{% set n = namespace(prev=ns.cur) %}{% set ns.cur = n %}{% endfor %}done", "{}", many);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "done");
  EXPECT_NE(ErrorOf("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}")
                .find("nested deeper"),
            std::string::npos);
  RenderOptions tiny_budget;
  tiny_budget.max_work = 10000;
  EXPECT_NE(ErrorOf("{% for i in range(100000) %}{% endfor %}", "{}", tiny_budget).find("work budget"),
            std::string::npos);
}

}  // namespace
}  // namespace lfm2::jinja
