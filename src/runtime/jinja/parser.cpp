#include "runtime/jinja/parser.h"

#include <algorithm>

#include <fmt/format.h>

#include "format/error.h"
#include "runtime/jinja/builtins.h"

namespace slim::jinja {

std::unique_ptr<Program> parse(std::string_view source, const std::string& name) {
    auto program = std::make_unique<Program>();
    program->name = name;
    Parser parser(tokenize(source, name), program->name);
    program->body = parser.parse_template();
    return program;
}

Parser::Parser(std::vector<Token> tokens, const std::string& name)
    : tokens_(std::move(tokens)), name_(name) {}

Parser::Depth::Depth(Parser& p) : p_(p) {
    if (++p_.depth_ > kMaxParseDepth) {
        throw Error(ErrorKind::too_large, p_.name_, fmt::format("line {}", p_.cur().line),
                    p_.cur().offset, fmt::format("nesting at most {} deep", kMaxParseDepth),
                    "deeper nesting");
    }
}

const Token& Parser::advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
}

bool Parser::skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
}

bool Parser::skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    advance();
    return true;
}

std::string Parser::describe(const Token& t) const {
    switch (t.type) {
        case Tok::data:
            return "template data";
        case Tok::variable_begin:
            return "begin of print statement";
        case Tok::variable_end:
            return "end of print statement";
        case Tok::block_begin:
            return "begin of statement block";
        case Tok::block_end:
            return "end of statement block";
        case Tok::name:
            return fmt::format("'{}'", t.value);
        case Tok::string:
            return "string";
        case Tok::integer:
            return "integer";
        case Tok::floating:
            return "float";
        case Tok::op:
            return fmt::format("'{}'", t.value);
        case Tok::eof:
            return "end of template";
    }
    return "token";
}

void Parser::fail(const Token& at, const std::string& expected, const std::string& found) {
    throw Error(ErrorKind::bad_value, name_, fmt::format("line {}", at.line), at.offset, expected,
                found);
}

void Parser::fail_unsupported(const Token& at, const std::string& construct) {
    throw Error(ErrorKind::unsupported, name_, fmt::format("line {}", at.line), at.offset,
                "a construct slim implements", construct);
}

const Token& Parser::expect_op(std::string_view op) {
    if (!is_op(op)) fail(cur(), fmt::format("'{}'", op), describe(cur()));
    return advance();
}

const Token& Parser::expect_name() {
    if (cur().type != Tok::name) fail(cur(), "a name", describe(cur()));
    return advance();
}

const Token& Parser::expect(Tok type, const char* what) {
    if (cur().type != type) fail(cur(), what, describe(cur()));
    return advance();
}

ExprPtr Parser::make(ExprKind kind, const Token& at) const {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->offset = at.offset;
    e->line = at.line;
    return e;
}

void Parser::deepen(Expr& parent, const Expr& child) {
    if (child.depth + 1 > parent.depth) parent.depth = child.depth + 1;
    if (parent.depth > kMaxExprDepth) {
        throw Error(ErrorKind::too_large, name_, fmt::format("line {}", parent.line), parent.offset,
                    fmt::format("expressions at most {} deep", kMaxExprDepth),
                    "a deeper expression");
    }
}

void Parser::adopt(Expr& parent, ExprPtr child) {
    if (child) deepen(parent, *child);
    parent.args.push_back(std::move(child));
}

Body Parser::parse_template() {
    Body body = subparse({});
    check_unknown(body, false);
    return body;
}

Body Parser::subparse(const std::vector<std::string_view>& end_tokens) {
    Body body;
    while (cur().type != Tok::eof) {
        const Token& t = cur();
        if (t.type == Tok::data) {
            auto s = std::make_unique<Stmt>();
            s->kind = StmtKind::output;
            s->offset = t.offset;
            s->line = t.line;
            s->text = t.value;
            body.push_back(std::move(s));
            advance();
        } else if (t.type == Tok::variable_begin) {
            advance();
            auto s = std::make_unique<Stmt>();
            s->kind = StmtKind::print;
            s->offset = t.offset;
            s->line = t.line;
            s->expr = parse_tuple();
            expect(Tok::variable_end, "'}}'");
            body.push_back(std::move(s));
        } else if (t.type == Tok::block_begin) {
            advance();
            if (!end_tokens.empty() && cur().type == Tok::name &&
                std::find(end_tokens.begin(), end_tokens.end(), cur().value) != end_tokens.end())
                return body;
            body.push_back(parse_statement());
            expect(Tok::block_end, "'%}'");
        } else {
            fail(t, "template data or a tag", describe(t));
        }
    }
    if (!end_tokens.empty()) {
        std::string tags;
        for (auto e : end_tokens) tags += (tags.empty() ? "'" : " or '") + std::string(e) + "'";
        fail(cur(), tags, "end of template");
    }
    return body;
}

Body Parser::parse_statements(const std::vector<std::string_view>& end_tokens, bool drop_needle) {
    skip_op(":");
    expect(Tok::block_end, "'%}'");
    Body body = subparse(end_tokens);
    if (drop_needle) advance();
    return body;
}

StmtPtr Parser::parse_statement() {
    Depth depth(*this);
    const Token& t = cur();
    if (t.type != Tok::name) fail(t, "a tag name", describe(t));
    const std::string& tag = t.value;
    if (tag == "for") return parse_for();
    if (tag == "if") return parse_if();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "filter") return parse_filter_block();
    if (tag == "with") return parse_with();
    if (tag == "print") return parse_print_tag();
    if (tag == "break" || tag == "continue") {
        // jinja2.ext.loopcontrols; outside a loop the compiled Python fails.
        if (loop_depth_ == 0)
            fail(t, fmt::format("a loop around '{}'", tag), fmt::format("'{}' outside loop", tag));
        auto s = std::make_unique<Stmt>();
        s->kind = tag == "break" ? StmtKind::break_ : StmtKind::continue_;
        s->offset = t.offset;
        s->line = t.line;
        advance();
        return s;
    }
    if (tag == "generation") {
        // transformers' AssistantTracker: renders its body, as a call block
        // (so its body is a scope of its own).
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::generation;
        s->offset = t.offset;
        s->line = t.line;
        advance();
        int saved = loop_depth_;
        loop_depth_ = 0;
        s->body = parse_statements({"endgeneration"}, true);
        loop_depth_ = saved;
        return s;
    }
    static const char* const kUnsupported[] = {"call",   "block",    "extends",    "include",
                                               "import", "from",     "autoescape", "raw",
                                               "trans",  "pluralize"};
    for (const char* u : kUnsupported)
        if (tag == u) fail_unsupported(t, fmt::format("tag '{}'", tag));
    fail(t, "a known tag", fmt::format("Encountered unknown tag '{}'", tag));
}

StmtPtr Parser::parse_for() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::for_;
    s->offset = cur().offset;
    s->line = cur().line;
    advance();
    s->target = parse_assign_target(true, false, {"in"}, false);
    if (!skip_name("in")) fail(cur(), "'in'", describe(cur()));
    s->expr = parse_tuple(false, false, {"recursive"});
    if (skip_name("if")) s->filter_expr = parse_expression();
    if (is_name("recursive")) fail_unsupported(cur(), "recursive for loop");
    ++loop_depth_;
    s->body = parse_statements({"endfor", "else"}, false);
    --loop_depth_;
    // The else body runs after the loop, so break/continue there belong to
    // an enclosing loop, as in the Python jinja2 compiles to.
    if (advance().value == "else") s->else_body = parse_statements({"endfor"}, true);
    return s;
}

StmtPtr Parser::parse_if() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::if_;
    s->offset = cur().offset;
    s->line = cur().line;
    advance();
    while (true) {
        ExprPtr test = parse_tuple(false, false);
        Body body = parse_statements({"elif", "else", "endif"}, false);
        s->branches.emplace_back(std::move(test), std::move(body));
        const Token& t = advance();
        if (t.value == "elif") continue;
        if (t.value == "else") s->else_body = parse_statements({"endif"}, true);
        break;
    }
    return s;
}

StmtPtr Parser::parse_set() {
    auto s = std::make_unique<Stmt>();
    s->offset = cur().offset;
    s->line = cur().line;
    advance();
    s->target = parse_assign_target(true, false, {}, true);
    if (skip_op("=")) {
        s->kind = StmtKind::set;
        s->expr = parse_tuple();
        return s;
    }
    s->kind = StmtKind::set_block;
    if (is_op("|")) s->filter_expr = parse_filter_chain(nullptr, false);
    // Set and filter blocks are inline code in jinja2: break and continue
    // inside them act on the enclosing loop.
    s->body = parse_statements({"endset"}, true);
    return s;
}

// Whether a macro body mentions `name` (jinja2 then gives the macro a
// varargs, kwargs or caller parameter).
static bool mentions(const Expr* e, std::string_view name);
static bool mentions(const Body& body, std::string_view name);

static bool mentions(const Expr* e, std::string_view name) {
    if (!e) return false;
    if (e->kind == ExprKind::name && e->name == name) return true;
    for (const auto& a : e->args)
        if (mentions(a.get(), name)) return true;
    for (const auto& kv : e->kwargs)
        if (mentions(kv.second.get(), name)) return true;
    return mentions(e->dyn_args.get(), name) || mentions(e->dyn_kwargs.get(), name);
}

static bool mentions(const Body& body, std::string_view name) {
    for (const auto& s : body) {
        if (mentions(s->expr.get(), name) || mentions(s->filter_expr.get(), name)) return true;
        for (const auto& [test, b] : s->branches)
            if (mentions(test.get(), name) || mentions(b, name)) return true;
        for (const auto& d : s->defaults)
            if (mentions(d.get(), name)) return true;
        for (const auto& [t, v] : s->assignments)
            if (mentions(v.get(), name)) return true;
        if (mentions(s->body, name) || mentions(s->else_body, name)) return true;
    }
    return false;
}

StmtPtr Parser::parse_macro() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::macro;
    s->offset = cur().offset;
    s->line = cur().line;
    advance();
    s->name = expect_name().value;
    expect_op("(");
    while (!is_op(")")) {
        if (!s->params.empty()) expect_op(",");
        const Token& p = expect_name();
        if (skip_op("=")) {
            s->defaults.push_back(parse_expression());
        } else if (!s->defaults.empty()) {
            fail(p, "a default value", "non-default argument follows default argument");
        }
        s->params.push_back(p.value);
    }
    expect_op(")");
    int saved = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_statements({"endmacro"}, true);
    loop_depth_ = saved;
    s->uses_varargs = mentions(s->body, "varargs");
    s->uses_kwargs = mentions(s->body, "kwargs");
    s->uses_caller = mentions(s->body, "caller");
    return s;
}

StmtPtr Parser::parse_filter_block() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::filter_block;
    s->offset = cur().offset;
    s->line = cur().line;
    advance();
    s->filter_expr = parse_filter_chain(nullptr, true);
    s->body = parse_statements({"endfilter"}, true);
    return s;
}

StmtPtr Parser::parse_with() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::with;
    s->offset = cur().offset;
    s->line = cur().line;
    advance();
    while (cur().type != Tok::block_end) {
        if (!s->assignments.empty()) expect_op(",");
        ExprPtr target = parse_assign_target(true, false, {}, false);
        expect_op("=");
        s->assignments.emplace_back(std::move(target), parse_expression());
    }
    s->body = parse_statements({"endwith"}, true);
    return s;
}

StmtPtr Parser::parse_print_tag() {
    // {% print a, b %} prints each expression.
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::print;
    s->offset = cur().offset;
    s->line = cur().line;
    advance();
    auto tuple = make(ExprKind::tuple, cur());
    while (cur().type != Tok::block_end) {
        if (!tuple->args.empty()) expect_op(",");
        adopt(*tuple, parse_expression());
    }
    // Each expression prints on its own, which a concat of str() gives.
    tuple->kind = ExprKind::concat;
    s->expr = std::move(tuple);
    return s;
}

static bool can_assign(const Expr& e) {
    if (e.kind == ExprKind::name || e.kind == ExprKind::nsref) return true;
    if (e.kind == ExprKind::tuple)
        return std::all_of(e.args.begin(), e.args.end(),
                           [](const ExprPtr& a) { return can_assign(*a); });
    return false;
}

ExprPtr Parser::parse_assign_target(bool with_tuple, bool name_only,
                                    const std::vector<std::string_view>& extra_end,
                                    bool with_namespace) {
    const Token& start = cur();
    ExprPtr target;
    if (with_namespace && look().type == Tok::op && look().value == ".") {
        const Token& ns = expect_name();
        advance();
        const Token& attr = expect_name();
        target = make(ExprKind::nsref, ns);
        target->name = ns.value;
        target->attr = attr.value;
        return target;
    }
    if (name_only) {
        const Token& n = expect_name();
        target = make(ExprKind::name, n);
        target->name = n.value;
        return target;
    }
    target = with_tuple ? parse_tuple(true, true, extra_end) : parse_primary();
    if (!can_assign(*target))
        fail(start, "an assignable target", "can't assign to this expression");
    return target;
}

void Parser::check_unknown(const Body& body, bool soft) {
    for (const auto& s : body) check_unknown(*s, soft);
}

void Parser::check_unknown(const Stmt& s, bool soft) {
    switch (s.kind) {
        case StmtKind::if_:
            for (const auto& [test, body] : s.branches) {
                check_unknown(test.get(), true);
                check_unknown(body, true);
            }
            check_unknown(s.else_body, true);
            return;
        case StmtKind::for_:
            check_unknown(s.expr.get(), soft);
            check_unknown(s.filter_expr.get(), false);
            check_unknown(s.body, false);
            check_unknown(s.else_body, false);
            return;
        case StmtKind::macro:
            for (const auto& d : s.defaults) check_unknown(d.get(), false);
            check_unknown(s.body, false);
            return;
        case StmtKind::with:
            for (const auto& [t, v] : s.assignments) check_unknown(v.get(), soft);
            check_unknown(s.body, false);
            return;
        case StmtKind::set_block:
        case StmtKind::filter_block:
            check_unknown(s.filter_expr.get(), false);
            check_unknown(s.body, false);
            return;
        case StmtKind::generation:
            check_unknown(s.body, false);
            return;
        default:
            check_unknown(s.expr.get(), soft);
            return;
    }
}

void Parser::check_unknown(const Expr* e, bool soft) {
    if (!e) return;
    if (e->kind == ExprKind::cond) soft = true;
    bool unknown_filter = e->kind == ExprKind::filter && !e->filter;
    bool unknown_test = e->kind == ExprKind::test && !e->test;
    if ((unknown_filter || unknown_test) && !soft) {
        throw Error(ErrorKind::unsupported, name_, fmt::format("line {}", e->line), e->offset,
                    "a filter or test jinja2 knows",
                    fmt::format("{} '{}'", unknown_filter ? "filter" : "test", e->name));
    }
    for (const auto& a : e->args) check_unknown(a.get(), soft);
    for (const auto& kv : e->kwargs) check_unknown(kv.second.get(), soft);
    check_unknown(e->dyn_args.get(), soft);
    check_unknown(e->dyn_kwargs.get(), soft);
}

}  // namespace slim::jinja
