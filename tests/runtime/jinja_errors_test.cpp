// What slim's Jinja interpreter does with bad or hostile templates: which
// typed error each raises (jinja2's behaviour noted beside each case), that
// limits hold, and that mangled real templates never crash it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "format/error.h"
#include "runtime/jinja/template.h"
#include "test_paths.h"

namespace slim::jinja {
namespace {

using json = nlohmann::ordered_json;

// Parses and renders; returns the error, or fails the test if none is raised.
Error render_error(const std::string& source, const json& vars = json::object(),
                   const RenderOptions& options = {}) {
    try {
        Template tpl(source, "t.jinja");
        std::string out = tpl.render(vars, options);
        ADD_FAILURE() << "no error for: " << source << "\nrendered: " << out.substr(0, 200);
    } catch (const Error& e) {
        return e;
    }
    return Error(ErrorKind::io, "", "", std::nullopt, "", "");
}

Error parse_error(const std::string& source) {
    try {
        Template tpl(source, "t.jinja");
        ADD_FAILURE() << "parsed: " << source;
    } catch (const Error& e) {
        return e;
    }
    return Error(ErrorKind::io, "", "", std::nullopt, "", "");
}

std::string render(const std::string& source, const json& vars = json::object()) {
    return Template(source, "t.jinja").render(vars);
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndOffset) {
    // jinja2: TemplateSyntaxError for each.
    Error e = parse_error("line one\n{% if x %}\nno end");
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.file(), "t.jinja");
    EXPECT_NE(e.found().find("end of template"), std::string::npos) << e.what();

    e = parse_error("a\nb\n{{ 1 + }}");
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "line 3");
    EXPECT_EQ(e.offset(), 11u);  // the `}}` where an expression should be

    EXPECT_EQ(parse_error("{% do x %}").kind(), ErrorKind::bad_value);  // not enabled by HF
    EXPECT_EQ(parse_error("{{ }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{{ 'abc }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{{ (1 }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{{ 1) }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{% endfor %}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{% macro m() %}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{% break %}").kind(), ErrorKind::bad_value);  // 'break' outside loop
    EXPECT_EQ(
        parse_error("{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}").kind(),
        ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{# never closed").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{% set 1 = 2 %}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{% macro m(a=1, b) %}{% endmacro %}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{{ x is defined is defined }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{{ f(a=1, 2) }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error("{{ '\\x4' }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(parse_error(std::string("{{ 'bad \xff utf8' }}")).kind(), ErrorKind::bad_value);
}

TEST(JinjaErrors, UnsupportedConstructsAreNamed) {
    auto expect_unsupported = [](const std::string& src, const std::string& construct) {
        Error e = parse_error(src);
        EXPECT_EQ(e.kind(), ErrorKind::unsupported) << src << ": " << e.what();
        EXPECT_NE(e.found().find(construct), std::string::npos) << e.what();
    };
    expect_unsupported("{% include 'x.jinja' %}", "include");
    expect_unsupported("{% extends 'base' %}", "extends");
    expect_unsupported("{% import 'm' as m %}", "import");
    expect_unsupported("{% block b %}{% endblock %}", "block");
    expect_unsupported("{% call m() %}x{% endcall %}", "call");
    expect_unsupported("{% for x in y recursive %}{% endfor %}", "recursive");
    expect_unsupported("{{ x|groupby('a') }}", "groupby");
    expect_unsupported("{{ x|truncate(3) }}", "truncate");
    // jinja2 rejects an unknown filter when compiling (TemplateAssertionError)...
    expect_unsupported("{{ x|from_json }}", "from_json");
    expect_unsupported("{% for m in ms %}{{ m is frobbed }}{% endfor %}", "frobbed");
}

TEST(JinjaErrors, UnknownFilterUnderIfFailsOnlyWhenReached) {
    // ...but under an `if` or inline if only when it runs (TemplateRuntimeError).
    Template tpl("{% if s is string %}{{ s|from_json }}{% else %}dict{% endif %}", "t");
    EXPECT_EQ(tpl.render(json{{"s", json::object()}}), "dict");
    try {
        tpl.render(json{{"s", "{}"}});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::unsupported);
        EXPECT_NE(e.found().find("from_json"), std::string::npos);
    }
    EXPECT_EQ(render("{{ 1 if true else x|nope }}"), "1");
}

TEST(JinjaErrors, RuntimeErrorsAsJinja2) {
    // UndefinedError: attribute of an undefined value.
    Error e = render_error("\n{{ a.b }}");
    EXPECT_EQ(e.kind(), ErrorKind::bad_value);
    EXPECT_EQ(e.field(), "line 2: UndefinedError");
    EXPECT_EQ(e.found(), "'a' is undefined");
    EXPECT_EQ(render_error("{{ d.x.y }}", json{{"d", json::object()}}).found(),
              "'dict object' has no attribute 'x'");
    // TypeError.
    EXPECT_EQ(render_error("{{ 1 + 'a' }}").field(), "line 1: TypeError");
    EXPECT_EQ(render_error("{{ none|length }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(render_error("{% for x in 3 %}{% endfor %}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(render_error("{{ 'a' in 3 }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(render_error("{{ 1 < 'a' }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(render_error("{{ undefined_fn() }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(render_error("{{ 1 / 0 }}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(render_error("{% set a, b = [1] %}").kind(), ErrorKind::bad_value);
    EXPECT_EQ(render_error("{{ (x|select)|length }}", json{{"x", {1}}}).kind(),
              ErrorKind::bad_value);
    // SecurityError: the sandbox forbids mutating lists and dicts.
    e = render_error("{% set l = [] %}{% set _ = l.append(1) %}");
    EXPECT_EQ(e.field(), "line 1: SecurityError");
    EXPECT_EQ(e.found(), "access to attribute 'append' of 'list' object is unsafe.");
    EXPECT_EQ(render_error("{{ d.pop('a') }}", json{{"d", {{"a", 1}}}}).kind(),
              ErrorKind::bad_value);
    EXPECT_EQ(render("{{ l.append is defined }}", json{{"l", json::array()}}), "False");
    // TemplateRuntimeError: assigning an attribute of a non-namespace.
    EXPECT_EQ(render_error("{% set d = {} %}{% set d.x = 1 %}").kind(), ErrorKind::bad_value);
    // OverflowError from the sandbox's range limit.
    EXPECT_EQ(render_error("{{ range(1000000)|length }}").kind(), ErrorKind::bad_value);
}

TEST(JinjaErrors, RaiseExceptionIsInvalidArgument) {
    Error e = render_error(
        "{% if messages|length == 0 %}{{ raise_exception('No messages!') }}{% endif %}",
        json{{"messages", json::array()}});
    EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
    EXPECT_EQ(e.found(), "No messages!");
    EXPECT_EQ(e.field(), "line 1: TemplateError");
}

TEST(JinjaLimits, DeepNestingIsAnErrorNotACrash) {
    std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
    EXPECT_EQ(parse_error(deep).kind(), ErrorKind::too_large);
    std::string nots = "{{ " + std::string(0, ' ');
    for (int i = 0; i < 5000; ++i) nots += "not ";
    EXPECT_EQ(parse_error(nots + "x }}").kind(), ErrorKind::too_large);
    std::string ifs;
    for (int i = 0; i < 3000; ++i) ifs += "{% if true %}";
    EXPECT_EQ(parse_error(ifs).kind(), ErrorKind::too_large);
    std::string list = "{{ " + std::string(3000, '[') + std::string(3000, ']') + " }}";
    EXPECT_EQ(parse_error(list).kind(), ErrorKind::too_large);
    // Chains deepen the tree without nesting.
    std::string attrs = "{{ x", sums = "{{ 1", filters = "{{ x", ors = "{{ a";
    for (int i = 0; i < 100000; ++i) {
        attrs += ".a";
        sums += " + 1";
        filters += "|trim";
        ors += " or a";
    }
    for (const auto& src : {attrs, sums, filters, ors})
        EXPECT_EQ(parse_error(src + " }}").kind(), ErrorKind::too_large);
    // Long but shallow ones are fine.
    std::string concat = "{{ 'a'", flat = "{{ [";
    for (int i = 0; i < 5000; ++i) {
        concat += " ~ 'a'";
        flat += "1, ";
    }
    EXPECT_EQ(render(concat + " }}").size(), 5001u);
    EXPECT_EQ(render(flat + "] | length }}"), "5000");
}

TEST(JinjaLimits, RunawayTemplatesStop) {
    // Unbounded recursion (jinja2: RecursionError).
    EXPECT_EQ(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").kind(),
              ErrorKind::too_large);
    // Exponential recursion runs out of steps.
    RenderOptions small;
    small.max_steps = 200000;
    EXPECT_EQ(render_error("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
                           "{% endmacro %}{{ f(40) }}",
                           json::object(), small)
                  .kind(),
              ErrorKind::too_large);
    // Nested loops within the sandbox's range limit, but too many steps.
    EXPECT_EQ(render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                           "{% endfor %}",
                           json::object(), small)
                  .kind(),
              ErrorKind::too_large);
    // Strings and output past the size limit.
    EXPECT_EQ(render_error("{{ 'x' * 1000000000 }}").kind(), ErrorKind::too_large);
    RenderOptions tiny;
    tiny.max_output_bytes = 1000;
    EXPECT_EQ(render_error("{% for i in range(2000) %}x{% endfor %}", json::object(), tiny).kind(),
              ErrorKind::too_large);
    EXPECT_EQ(render_error("{% set ns = namespace(s='x') %}{% for i in range(40) %}"
                           "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                           json::object(), tiny)
                  .kind(),
              ErrorKind::too_large);
    // Lists nested through a namespace, and printed.
    EXPECT_EQ(render_error("{% set ns = namespace(x=[]) %}{% for i in range(2000) %}"
                           "{% set ns.x = [ns.x] %}{% endfor %}")
                  .kind(),
              ErrorKind::too_large);
    // A list holding itself twice per level prints exponentially long text.
    EXPECT_EQ(render_error("{% set ns = namespace(x=[1]) %}{% for i in range(60) %}"
                           "{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x }}",
                           json::object(), tiny)
                  .kind(),
              ErrorKind::too_large);
}

TEST(JinjaLimits, SelfReferenceThroughNamespaces) {
    // As Python's repr: <Namespace {'self': <Namespace {...}>}>.
    EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns }}"),
              "<Namespace {'self': <Namespace {...}>}>");
    EXPECT_EQ(render("{% set ns = namespace(a=1) %}{% set ns.l = [ns, ns] %}{{ ns }}"),
              "<Namespace {'a': 1, 'l': [<Namespace {...}>, <Namespace {...}>]}>");
    EXPECT_EQ(
        render("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns.self.self is defined }}"),
        "True");
}

TEST(JinjaLimits, DeepJsonInputIsRejected) {
    json deep = json::array();
    for (int i = 0; i < 2000; ++i) deep = json::array({deep});
    try {
        Template("{{ x }}", "t").render(json{{"x", deep}});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::too_large);
    }
    try {
        Template("{{ x }}", "t").render(json{{"x", std::string("bad \xff")}});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::bad_value);
        EXPECT_EQ(e.field(), "x");
    }
    try {
        Template("{{ x }}", "t").render(json::array());
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::invalid_argument);
    }
}

TEST(JinjaApi, RenderChatPassesWhatTransformersPasses) {
    Template tpl(
        "{{ bos_token }}{{ tools is none }}{{ documents is none }}"
        "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
        "{% if add_generation_prompt %}<gen>{% endif %}{{ eos_token }}{{ enable_thinking }}",
        "chat");
    ChatRequest req;
    req.messages = json::array({{{"role", "user"}, {"content", "hi"}}});
    req.bos_token = "<s>";
    req.eos_token = "</s>";
    req.extra = {{"enable_thinking", false}};
    EXPECT_EQ(render_chat(tpl, req), "<s>TrueTrue[user:hi]<gen></s>False");
    req.add_generation_prompt = false;
    req.tools = json::array();
    EXPECT_EQ(render_chat(tpl, req), "<s>FalseTrue[user:hi]</s>False");
    // strftime_now with the real clock gives today's date.
    EXPECT_EQ(Template("{{ strftime_now('%Y')|length }}", "t").render(json::object()), "4");
}

TEST(JinjaApi, TemplatesAreReusableAndMovable) {
    Template a("{{ x * 2 }}", "a");
    Template b = std::move(a);
    EXPECT_EQ(b.name(), "a");
    EXPECT_EQ(b.render(json{{"x", 2}}), "4");
    EXPECT_EQ(b.render(json{{"x", "ab"}}), "abab");
}

// Real templates cut, spliced and flipped at random: any outcome but a
// crash, hang or exception other than slim::Error is a bug.
TEST(JinjaFuzz, MangledTemplatesFailCleanly) {
    namespace fs = std::filesystem;
    std::vector<std::string> sources;
    for (const char* name : {"Qwen-Qwen3-0.6B", "openai-gpt-oss-120b", "google-gemma-4-31B-it",
                             "meetkai-functionary-medium-v3.2", "Kimi-K2-Thinking"}) {
        std::ifstream f(test::testdata_dir() / "chat-templates" / (std::string(name) + ".jinja"));
        std::stringstream s;
        s << f.rdbuf();
        sources.push_back(s.str());
    }
    ASSERT_FALSE(sources[0].empty());
    json vars = {{"messages",
                  {{{"role", "system"}, {"content", "s"}},
                   {{"role", "user"}, {"content", "u"}},
                   {{"role", "assistant"},
                    {"content", "a"},
                    {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", {{"x", 1}}}}}}}}}}},
                 {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}},
                 {"add_generation_prompt", true}};
    RenderOptions opts;
    opts.max_steps = 200000;
    opts.max_output_bytes = 1 << 20;
    std::mt19937 rng(1234);
    const char* pieces[] = {"{%", "%}",   "{{",    "}}",   "{#",    "#}",     "-",
                            "(",  ")",    "[",     "]",    "'",     "\"",     "|",
                            ".",  " if ", " for ", " in ", "endif", "endfor", "\n"};
    int rendered = 0, rejected = 0;
    for (int iter = 0; iter < 1500; ++iter) {
        std::string s = sources[iter % sources.size()];
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < edits && !s.empty(); ++k) {
            size_t pos = rng() % s.size();
            switch (rng() % 4) {
                case 0:
                    s.erase(pos, 1 + rng() % 40);
                    break;
                case 1:
                    s.insert(pos, pieces[rng() % std::size(pieces)]);
                    break;
                case 2:
                    s[pos] = static_cast<char>(rng() % 128);
                    break;
                case 3: {
                    size_t from = rng() % s.size();
                    s.insert(pos, s.substr(from, 1 + rng() % 80));
                    break;
                }
            }
        }
        try {
            Template tpl(s, "fuzz");
            tpl.render(vars, opts);
            ++rendered;
        } catch (const Error&) {
            ++rejected;
        }
    }
    EXPECT_GT(rendered, 0);
    EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace slim::jinja
