#!/usr/bin/env python3
"""Writes tests/chat/data/chat_template_vectors.json: what Python's jinja2 renders,
in the environment transformers' apply_chat_template uses, for

  * every built-in template (src/chat/templates/*.jinja, the real templates of
    model families) on every conversation of data/conversations.json, with and
    without add_generation_prompt, with the special tokens of data/special_tokens.json;
  * the engine snippets below (edge cases of jinja2's semantics).

transformers (>= 4.43) compiles chat templates with
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, jinja2.ext.loopcontrols]), replaces the tojson
filter by json.dumps(x, ensure_ascii=False, indent, separators, sort_keys), adds
the globals raise_exception (raises TemplateError) and strftime_now
(datetime.now().strftime), and renders with messages, tools, documents,
add_generation_prompt and the special tokens. This script builds the same
environment (strftime_now on a fixed date, for repeatable vectors).

Run from the repository root after changing a template or a snippet:
    python3 tests/chat/make_chat_template_vectors.py
Needs python3-jinja2 (Debian 12: 3.1.2), not needed by the tests themselves.
"""
import datetime
import json
import pathlib

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "chat" / "data"
FIXED_NOW = datetime.datetime(2024, 9, 1, 12, 0, 0)  # the C++ test gives strftime_now the same clock


class Raised(Exception):
    """What the template's raise_exception() threw (transformers: TemplateError)."""


def make_env():
    def raise_exception(message):
        raise Raised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def outcome(env, source, variables):
    try:
        return {"expected": env.from_string(source).render(**variables)}
    except Raised as e:
        return {"raises": str(e)}
    except Exception as e:  # the C++ engine must fail too (Error bad_chat_template)
        return {"error": type(e).__name__ + ": " + str(e)}


# Engine edge cases: whitespace control, scoping, operators, filters, tests,
# methods, printing of Python values. Each renders with VARS.
VARS = {"d": {"a": 1, "b": [1, "x"]}, "s": "Hello, World", "n": None, "xs": [{"a": 1, "b": 2}, {"a": 0}],
        "m": {"role": "user", "content": " hi "}}
SNIPPETS = [
    "a\n{# c #}\nb\n   {#- x #}   y",
    "a  {%+ if true %}x{% endif %}\n  {% if true +%}\ny{% endif %}",
    "{{ 'a' }}\n{% if true %}\nz{% endif %}",
    "x\n  {{ 'v' }}\n  {% if 1 %}q{% endif %}",
    "  {% if true %}\n  x\n  {% endif %}\n  y\n",
    "{%- if true -%}\n   a   \n{%- endif -%}\n b",
    "{% for i in [1,2] %}{% if i == 2 %}[{{ x }}]{% endif %}{% set x = i %}{% endfor %}{{ x }}",
    "{% set x = 5 %}{% for i in [1,2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}",
    "{% if true %}{% set x = 5 %}{% endif %}{{ x }}",
    "{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }}",
    "{{ 'a' ~ none ~ undefinedvar ~ 1.0 }}",
    "{{ undefinedvar == none }}{{ undefinedvar is none }}{{ undefinedvar is defined }}",
    "{{ x.y }}",
    "{{ 1/2 }} {{ 7//2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 1e20 }} {{ 1.0e-5 }} {{ 3.0 }} {{ 10000000000000000.0 }}",
    "{{ 0.1 + 0.2 }} {{ 1e15 }} {{ 123456789012345678.0 }} {{ 0.0001 }} {{ -0.0 }} {{ 7.5 // 2 }} {{ 7 % -3 }}",
    "{{ 'abc'[1:] }} {{ 'héllo'|length }} {{ 'héllo'[1] }} {{ 'abc'[-2:] }} {{ [1,2,3][::-1] }} {{ [1,2,3][-1] }}",
    "{{ {'a':1} == {'a':1} }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1] == (1,) }}",
    "{{ ['a','b']|join(', ') }} {{ {'b': 1, 'a': [1, 'x']}|tojson }}",
    "{{ \"it's\" }} {{ [\"it's\", 'a\"b', 'a\\nb', 'tab\\t', 'é'] }}",
    "{{ x if false }}|{{ (x if false) is defined }}",
    "{{ 'a' + 1 }}",
    "{{ u + 'a' }}",
    "{{ 'a' 'b' }}",
    "{%- for i in [1,2,3] if i > 1 -%}{{ loop.index }}/{{ loop.length }}{{ loop.last }}{% endfor %}",
    "{% set ns = namespace(a=1) %}{% for i in [1,2] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}",
    "{% macro m(a, b='x') %}[{{a}}{{b}}]{% endmacro %}{{ m(1) }}{{ m(2, b=3) }}",
    "{{ 'x'|tojson }} {{ 'é<\\u2028\\x7f'|tojson }} {{ 1.5|tojson }} {{ none|tojson }} {{ {'a':{'b':[1,2]}}|tojson(indent=2) }}",
    "{{ d|tojson(indent=4) }} {{ d|tojson(separators=(',', ':')) }} {{ {'b':1,'a':2}|tojson(sort_keys=true) }} {{ [] | tojson(indent=2) }}",
    "{{ ' a '|trim }}|{{ 'a\\u3000'.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ m.content|trim }}|",
    "{{ [3,1,2]|sort }} {{ [1,2]|first }} {{ 'ab'|upper }} {{ none|string }} {{ [1,2]|string }}",
    "{{ 1.5|int }} {{ '3'|int + 1 }} {{ 2.0 * 3 }} {{ 7 / 7 }} {{ '4.7'|int }} {{ 'x'|int(7) }} {{ '2.5'|float }}",
    "{{ 'a' in u }} {{ u|length }} {{ u|trim }}|{{ u|string }}|{{ u|list }}",
    "{{ none.x is defined }} {{ d.zz is defined }} {{ d['zz'] }}|{{ [1][3] }}|",
    "{% for x in none %}{% endfor %}",
    "{{ u | tojson }}",
    "{{ 'a' | join }}{{ [1,2] | join }}{{ [none] | join(',') }}",
    "{{ 3 is number }} {{ true is number }} {{ true is integer }} {{ 1.0 is float }} {{ [] is sequence }} {{ {} is mapping }} {{ none is iterable }} {{ 'a' is iterable }} {{ s is string }}",
    "{{ none is none }} {{ 3 is odd }} {{ 4 is even }} {{ 4 is divisibleby 2 }} {{ 4 is divisibleby(3) }} {{ 2 is equalto 2 }} {{ 'a' is in 'cat' }}",
    "{{ [1, 2] | last }} {{ 'abc' | first }} {{ [] | first }}|",
    "{{ 'a,b,,c'.split(',', 1) }} {{ 'ab'.startswith(('x','a')) }} {{ 'Hello'.replace('l', 'L', 1) }} {{ s.split() }}",
    "{{ '  a  b '.split(' ') }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ ' x '.lstrip() }}| {{ ' x '.rstrip() }}|",
    "{{ 'hello world foo'.title() }} {{ 'aBc'.capitalize() }} {{ 'x'.upper() }} {{ s.lower() }} {{ 'it\\'s a-b'|title }}",
    "{{ {'b':1,'a':2}|dictsort }} {{ {'b':1,'a':2}|items|list }} {% for k, v in d.items() %}{{k}}={{v}};{% endfor %}{% for k in d %}{{k}}{% endfor %}",
    "{{ ['b','A','a']|sort }} {{ ['b','A','a']|sort(case_sensitive=true) }} {{ [3,1]|sort(reverse=true) }} {{ xs|sort(attribute='a')|map(attribute='a')|list }}",
    "{{ [1,2,3]|sum }} {{ [1,2]|max }} {{ ['a','B']|min }} {{ [1,1,2]|unique|list }} {{ 'abc'|reverse }} {{ [1,2]|reverse|list }}",
    "{{ 'a\\nb'|indent(2) }}|{{ 'a\\n\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}",
    "{{ '<a href=\"x\">&\\'</a>'|e }} {{ 3.7|int }} {{ 2.567|round(2) }} {{ 2.5|round(0, 'floor') }} {{ -3|abs }}",
    "{{ [1, 'a']|string }} {{ 5|string }} {{ 'ab'|list }} {{ 'x'|replace('x','y') }} {{ 'a'|center(6) }}|",
    "{{ [1,2,3,4,5]|batch(2)|list }} {{ d|length }} {{ 'aaa'|count }} {{ 'a b'|wordcount }}",
    "{{ xs|selectattr('a') | list }} {{ xs|rejectattr('a')|list }} {{ xs|map(attribute='b', default='z')|list }}",
    "{{ [1,2,3]|select('odd')|list }} {{ [1,2,3]|reject('equalto', 2)|list }} {{ ['a','b']|map('upper')|list }} {{ [1,2,3]|select|list }}",
    "{{ range(1, 10, 3)|list }} {{ range(3)|list }} {{ dict(a=1) }} {{ namespace(a=1).a }}",
    "{{ 1 if true else 2 }} {{ (1, ) }} {{ () }} {{ (1, 2) }}",
    "{% for a in [1,2] %}{% for b in [3] %}{{ loop.index }}{{ a }}{% endfor %}{% endfor %}",
    "{% for a in [1,2,3] %}{% if a == 2 %}{% continue %}{% endif %}{{ a }}{% if a == 3 %}{% break %}{% endif %}{% endfor %}",
    "{% for a in [1,2,3] %}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.revindex }}{{ loop.cycle('x', 'y') }}|{% endfor %}",
    "{% for x in [] %}a{% else %}empty{% endfor %}",
    "{% set x %}a{{ 1 }}{% endset %}[{{ x }}]",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}",
    "{{ 'abc'.find('c') }} {{ 'a-b'.split('-')|join('+') }} {{ 'abc'.count('b') }} {{ 'ab'.endswith('b') }}",
    "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys()|list }} {{ d.values()|list }}",
    "{{ 'a' < 'b' }} {{ [1,2] < [1,3] }} {{ none == none }} {{ 1 != 2 }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}",
    "{{ true and 'x' }} {{ false or 0 }} {{ none or [] }} {{ not none }} {{ not 1 }}",
    "{{ 'abc'[0] }} {{ 'abc'[-1] }} {{ 'abc'[5] is defined }} {{ s[7:] }}",
    "{{ x | default('d') }} {{ '' | default('d', true) }} {{ none | default('d') }}",
    "{{ 'ab' * 2 }} {{ [1] * 2 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 2 ** 3 ** 2 }}",
    "{{ 5 // 0 }}",
    "{{ 'x' is mapping }} {{ m is mapping }} {{ m.role }} {{ m['role'] }} {{ m.items()|list }}",
    "{{ '\\u00e9\\x41\\n' }}|{{ 'a\\qb' }}|{{ \"\\\"\" }}",
    "{{ raise_exception('boom: ' ~ 1) }}",
    "{{ strftime_now('%d %b %Y') }}",
    "{% if d.a == 1 %}one{% elif d.a == 2 %}two{% else %}other{% endif %}",
    "{{ n }} {{ n is none }} {{ n|string }} {{ s|length }}",
    "{{ xs[0].a }} {{ xs[1].b is defined }} {{ xs|map(attribute='a')|join(',') }}",
    "{{ 'café'.upper() }} {{ 'ABC'.lower() }}",
    "{{ 'straße ÿ ŝ σίσυφος привет ёж'.upper() }} {{ 'ÀÉÎ ΑΒΓ ΆΈΊΌΎΏ ДОМ Ё Ŝ'.lower() }} {{ 'élan vital'|title }} {{ 'ébène'|capitalize }} {{ 'ÉCOLE'|lower }}",
    "{% for c in 'hé' %}[{{ c }}]{% endfor %}",
    "{{ {1: 'a', 'k': none} }} {{ {'a': 1}|tojson }} {{ [1.0, 2.5e-7, 1e100]|tojson }}",
    "{{ a }",
    "{% if %}",
    "{% for %}",
    "{% unknowntag %}",
    "{% if true %}x",
    "{{ 'unterminated }}",
]


def main():
    env = make_env()
    conversations = json.loads((DATA / "conversations.json").read_text())
    special = json.loads((DATA / "special_tokens.json").read_text())
    cases = []
    for path in sorted((ROOT / "src" / "chat" / "templates").glob("*.jinja")):
        name = path.name[: -len(".jinja")]
        source = path.read_text()
        tokens = {k: None for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
        tokens.update(special[name])
        for conv_name, conv in conversations.items():
            for add_generation_prompt in (False, True):
                variables = {"messages": conv["messages"], "tools": None, "documents": None,
                             "add_generation_prompt": add_generation_prompt, **tokens, **conv.get("variables", {})}
                case = {"template": name, "conversation": conv_name, "add_generation_prompt": add_generation_prompt}
                case.update(outcome(env, source, variables))
                cases.append(case)
    snippets = []
    for source in SNIPPETS:
        case = {"source": source}
        case.update(outcome(env, source, VARS))
        snippets.append(case)
    out = {"generator": "tests/chat/make_chat_template_vectors.py", "jinja2": jinja2.__version__,
           "fixed_now": FIXED_NOW.isoformat(), "snippet_variables": VARS, "templates": cases, "snippets": snippets}
    (DATA / "chat_template_vectors.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(cases)} template cases, {len(snippets)} snippets")


if __name__ == "__main__":
    main()
