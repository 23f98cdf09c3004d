#!/usr/bin/env python3
"""Reference renders of the chat templates, by Python jinja2, for slim's
Jinja interpreter (tests/runtime/jinja_templates_test.cpp).

For every template in ../shared/testdata/chat-templates and every
conversation in tests/reference/chat_templates/conversations.json, renders
with add_generation_prompt true and false and writes what jinja2 produced
(or the exception it raised) to tests/reference/chat_templates/<name>.json.

The environment is the one transformers' apply_chat_template builds
(transformers/utils/chat_template_utils.py, _compile_jinja_template and
render_jinja_template), rebuilt here so that neither transformers nor torch
is needed:
  - jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True,
    lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
  - filters["tojson"] = json.dumps with ensure_ascii=False, indent, separators,
    sort_keys
  - globals["raise_exception"] raises jinja2.exceptions.TemplateError(message)
  - globals["strftime_now"] = datetime.now().strftime(format); here "now" is
    the fixed time in conversations.json so that the output is reproducible
  - render(messages=..., tools=<list or None>, documents=None,
    add_generation_prompt=..., **special tokens) with bos_token and eos_token.
AssistantTracker only records spans when asked for an assistant mask; for a
plain render its {% generation %} block renders its body, which the small
extension below does the same way (a call block).

Usage: python3 tools/reference/make_chat_template_refs.py [--templates DIR]
"""
import argparse
import datetime
import hashlib
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "reference", "chat_templates")
DEFAULT_TEMPLATES = os.path.join(ROOT, "..", "shared", "testdata", "chat-templates")


class GenerationBlock(jinja2.ext.Extension):
    """transformers' AssistantTracker as a plain render sees it."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        call = self.call_method("_generation_support")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True,
        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def error_record(e):
    return {"type": type(e).__name__, "message": str(e)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--templates", default=DEFAULT_TEMPLATES)
    args = ap.parse_args()

    with open(os.path.join(OUT_DIR, "conversations.json"), encoding="utf-8") as f:
        spec = json.load(f)
    n = spec["now"]
    now = datetime.datetime(n["year"], n["month"], n["day"], n["hour"], n["minute"], n["second"])
    env = make_environment(now)

    names = sorted(f for f in os.listdir(args.templates) if f.endswith(".jinja"))
    total = 0
    for name in names:
        with open(os.path.join(args.templates, name), "rb") as f:
            raw = f.read()
        source = raw.decode("utf-8")
        mentions_tools = "tools" in source
        record = {
            "template": name,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "jinja2": jinja2.__version__,
            "python": sys.version.split()[0],
        }
        try:
            template = env.from_string(source)
        except jinja2.exceptions.TemplateError as e:
            # Rejected when compiled: every render fails the same way.
            record["compile_error"] = error_record(e)
            template = None
        renders = []
        for conv in spec["conversations"]:
            if conv.get("uses_tools") and not mentions_tools:
                continue
            for agp in (True, False):
                entry = {"conversation": conv["name"], "add_generation_prompt": agp}
                if template is not None:
                    try:
                        entry["output"] = template.render(
                            messages=conv["messages"],
                            tools=spec["tools"] if conv.get("uses_tools") else None,
                            documents=None,
                            add_generation_prompt=agp,
                            bos_token=spec["bos_token"],
                            eos_token=spec["eos_token"],
                        )
                    except Exception as e:  # jinja2 and Python errors alike
                        entry["error"] = error_record(e)
                renders.append(entry)
        record["renders"] = renders
        total += len(renders)
        out = os.path.join(OUT_DIR, name[: -len(".jinja")] + ".json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(f"{len(names)} templates, {total} renders, jinja2 {jinja2.__version__} -> {OUT_DIR}")


if __name__ == "__main__":
    main()
