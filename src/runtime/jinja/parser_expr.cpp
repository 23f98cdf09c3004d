// Expressions, by jinja2's precedence from loosest to tightest:
// inline if, or, and, not, comparisons (== != < <= > >= in, not in),
// + -, ~, * / // %, **, unary - +, then primaries with their postfix
// operators (.attr, [item], calls) and filters and tests.
#include <fmt/format.h>

#include "format/error.h"
#include "runtime/jinja/builtins.h"
#include "runtime/jinja/parser.h"

namespace slim::jinja {

ExprPtr Parser::parse_expression(bool with_condexpr) {
    Depth depth(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr Parser::parse_condexpr() {
    ExprPtr expr1 = parse_or();
    while (is_name("if")) {
        const Token& t = advance();
        auto node = make(ExprKind::cond, t);
        ExprPtr test = parse_or();
        ExprPtr expr3;
        if (skip_name("else")) expr3 = parse_condexpr();
        adopt(*node, std::move(test));
        adopt(*node, std::move(expr1));
        adopt(*node, std::move(expr3));
        expr1 = std::move(node);
    }
    return expr1;
}

ExprPtr Parser::parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
        auto node = make(ExprKind::or_, advance());
        adopt(*node, std::move(left));
        adopt(*node, parse_and());
        left = std::move(node);
    }
    return left;
}

ExprPtr Parser::parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
        auto node = make(ExprKind::and_, advance());
        adopt(*node, std::move(left));
        adopt(*node, parse_not());
        left = std::move(node);
    }
    return left;
}

ExprPtr Parser::parse_not() {
    if (is_name("not")) {
        Depth depth(*this);
        auto node = make(ExprKind::not_, advance());
        adopt(*node, parse_not());
        return node;
    }
    return parse_compare();
}

ExprPtr Parser::parse_compare() {
    const Token& start = cur();
    ExprPtr expr = parse_math1();
    ExprPtr node;
    while (true) {
        CmpOp op;
        if (cur().type == Tok::op &&
            (cur().value == "==" || cur().value == "!=" || cur().value == "<" ||
             cur().value == "<=" || cur().value == ">" || cur().value == ">=")) {
            const std::string& v = cur().value;
            op = v == "=="   ? CmpOp::eq
                 : v == "!=" ? CmpOp::ne
                 : v == "<"  ? CmpOp::lt
                 : v == "<=" ? CmpOp::le
                 : v == ">"  ? CmpOp::gt
                             : CmpOp::ge;
            advance();
        } else if (is_name("in")) {
            op = CmpOp::in;
            advance();
        } else if (is_name("not") && look().type == Tok::name && look().value == "in") {
            op = CmpOp::notin;
            advance();
            advance();
        } else {
            break;
        }
        if (!node) {
            node = make(ExprKind::compare, start);
            adopt(*node, std::move(expr));
        }
        node->ops.push_back(op);
        adopt(*node, parse_math1());
    }
    return node ? std::move(node) : std::move(expr);
}

ExprPtr Parser::parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
        const Token& t = advance();
        auto node = make(ExprKind::binary, t);
        node->bin = t.value == "+" ? BinOp::add : BinOp::sub;
        adopt(*node, std::move(left));
        adopt(*node, parse_concat());
        left = std::move(node);
    }
    return left;
}

ExprPtr Parser::parse_concat() {
    const Token& start = cur();
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto node = make(ExprKind::concat, start);
    adopt(*node, std::move(first));
    while (skip_op("~")) adopt(*node, parse_math2());
    return node;
}

ExprPtr Parser::parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
        const Token& t = advance();
        auto node = make(ExprKind::binary, t);
        node->bin = t.value == "*"    ? BinOp::mul
                    : t.value == "/"  ? BinOp::div
                    : t.value == "//" ? BinOp::floordiv
                                      : BinOp::mod;
        adopt(*node, std::move(left));
        adopt(*node, parse_pow());
        left = std::move(node);
    }
    return left;
}

ExprPtr Parser::parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
        auto node = make(ExprKind::binary, advance());
        node->bin = BinOp::pow;
        adopt(*node, std::move(left));
        adopt(*node, parse_unary(true));
        left = std::move(node);
    }
    return left;
}

ExprPtr Parser::parse_unary(bool with_filter) {
    Depth depth(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
        const Token& t = advance();
        node = make(t.value == "-" ? ExprKind::neg : ExprKind::pos, t);
        adopt(*node, parse_unary(false));
    } else {
        node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
}

ExprPtr Parser::parse_primary() {
    Depth depth(*this);
    const Token& t = cur();
    if (t.type == Tok::name) {
        advance();
        auto node = make(ExprKind::constant, t);
        if (t.value == "true" || t.value == "True") {
            node->value = Value::boolean(true);
        } else if (t.value == "false" || t.value == "False") {
            node->value = Value::boolean(false);
        } else if (t.value == "none" || t.value == "None") {
            node->value = Value::none();
        } else {
            node->kind = ExprKind::name;
            node->name = t.value;
        }
        return node;
    }
    if (t.type == Tok::string) {
        // Adjacent string literals join, as in Python.
        auto node = make(ExprKind::constant, t);
        std::string s;
        while (cur().type == Tok::string) s += advance().value;
        node->value = Value::string(std::move(s));
        return node;
    }
    if (t.type == Tok::integer || t.type == Tok::floating) {
        advance();
        auto node = make(ExprKind::constant, t);
        node->value = t.type == Tok::integer
                          ? Value::integer(std::stoll(t.value))
                          : Value::floating(std::strtod(t.value.c_str(), nullptr));
        return node;
    }
    if (is_op("(")) {
        advance();
        ExprPtr node = parse_tuple(false, true, {}, true);
        expect_op(")");
        return node;
    }
    if (is_op("[")) {
        auto node = make(ExprKind::list, advance());
        while (!is_op("]")) {
            if (!node->args.empty()) expect_op(",");
            if (is_op("]")) break;
            adopt(*node, parse_expression());
        }
        expect_op("]");
        return node;
    }
    if (is_op("{")) {
        auto node = make(ExprKind::dict, advance());
        while (!is_op("}")) {
            if (!node->args.empty()) expect_op(",");
            if (is_op("}")) break;
            adopt(*node, parse_expression());
            expect_op(":");
            adopt(*node, parse_expression());
        }
        expect_op("}");
        return node;
    }
    fail(t, "an expression", "unexpected " + describe(t));
}

bool Parser::is_tuple_end(const std::vector<std::string_view>& extra_end) const {
    if (cur().type == Tok::variable_end || cur().type == Tok::block_end || is_op(")")) return true;
    for (auto e : extra_end)
        if (is_name(e)) return true;
    return false;
}

ExprPtr Parser::parse_tuple(bool simplified, bool with_condexpr,
                            const std::vector<std::string_view>& extra_end,
                            bool explicit_parentheses) {
    const Token& start = cur();
    std::vector<ExprPtr> args;
    bool is_tuple = false;
    while (true) {
        if (!args.empty()) expect_op(",");
        if (is_tuple_end(extra_end)) break;
        if (simplified) {
            args.push_back(parse_primary());
        } else {
            args.push_back(parse_expression(with_condexpr));
        }
        if (is_op(",")) {
            is_tuple = true;
        } else {
            break;
        }
    }
    if (!is_tuple) {
        if (!args.empty()) return std::move(args[0]);
        if (!explicit_parentheses) fail(cur(), "an expression", describe(cur()));
    }
    auto node = make(ExprKind::tuple, start);
    for (auto& a : args) adopt(*node, std::move(a));
    return node;
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
    while (true) {
        if (is_op(".") || is_op("[")) {
            node = parse_subscript(std::move(node));
        } else if (is_op("(")) {
            node = parse_call(std::move(node));
        } else {
            return node;
        }
    }
}

ExprPtr Parser::parse_filter_expr(ExprPtr node) {
    while (true) {
        if (is_op("|")) {
            node = parse_filter_chain(std::move(node), false);
        } else if (is_name("is")) {
            node = parse_test(std::move(node));
        } else if (is_op("(")) {
            node = parse_call(std::move(node));
        } else {
            return node;
        }
    }
}

ExprPtr Parser::parse_subscript(ExprPtr node) {
    const Token& t = advance();
    if (t.value == ".") {
        const Token& attr = cur();
        if (attr.type == Tok::name) {
            advance();
            auto n = make(ExprKind::getattr, t);
            adopt(*n, std::move(node));
            n->name = attr.value;
            return n;
        }
        if (attr.type == Tok::integer) {
            advance();
            auto n = make(ExprKind::getitem, t);
            auto key = make(ExprKind::constant, attr);
            key->value = Value::integer(std::stoll(attr.value));
            adopt(*n, std::move(node));
            adopt(*n, std::move(key));
            return n;
        }
        fail(attr, "an attribute name", describe(attr));
    }
    // '['
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
        if (!args.empty()) expect_op(",");
        args.push_back(parse_subscribed());
    }
    expect_op("]");
    auto n = make(ExprKind::getitem, t);
    adopt(*n, std::move(node));
    if (args.size() == 1) {
        adopt(*n, std::move(args[0]));
    } else {
        auto tuple = make(ExprKind::tuple, t);
        for (auto& a : args) adopt(*tuple, std::move(a));
        adopt(*n, std::move(tuple));
    }
    return n;
}

ExprPtr Parser::parse_subscribed() {
    const Token& start = cur();
    std::vector<ExprPtr> parts;
    if (is_op(":")) {
        advance();
        parts.push_back(nullptr);
    } else {
        ExprPtr node = parse_expression();
        if (!is_op(":")) return node;
        advance();
        parts.push_back(std::move(node));
    }
    if (is_op(":")) {
        parts.push_back(nullptr);
    } else if (!is_op("]") && !is_op(",")) {
        parts.push_back(parse_expression());
    } else {
        parts.push_back(nullptr);
    }
    if (is_op(":")) {
        advance();
        if (!is_op("]") && !is_op(",")) {
            parts.push_back(parse_expression());
        } else {
            parts.push_back(nullptr);
        }
    } else {
        parts.push_back(nullptr);
    }
    auto slice = make(ExprKind::slice, start);
    for (auto& part : parts) adopt(*slice, std::move(part));
    return slice;
}

void Parser::parse_call_args(Expr& node) {
    const Token& open = expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
        if (require_comma) {
            expect_op(",");
            if (is_op(")")) break;
        }
        if (is_op("*")) {
            advance();
            if (node.dyn_args || node.dyn_kwargs) fail(cur(), "one *args", "a second *args");
            node.dyn_args = parse_expression();
            deepen(node, *node.dyn_args);
        } else if (is_op("**")) {
            advance();
            if (node.dyn_kwargs) fail(cur(), "one **kwargs", "a second **kwargs");
            node.dyn_kwargs = parse_expression();
            deepen(node, *node.dyn_kwargs);
        } else if (cur().type == Tok::name && look().type == Tok::op && look().value == "=") {
            if (node.dyn_kwargs) fail(cur(), "keyword arguments before **kwargs", "keyword after");
            std::string key = advance().value;
            advance();
            ExprPtr value = parse_expression();
            deepen(node, *value);
            node.kwargs.emplace_back(std::move(key), std::move(value));
        } else {
            if (node.dyn_args || node.dyn_kwargs || !node.kwargs.empty())
                fail(cur(), "positional arguments first", "positional argument after keywords");
            adopt(node, parse_expression());
        }
        require_comma = true;
    }
    (void)open;
    expect_op(")");
}

ExprPtr Parser::parse_call(ExprPtr node) {
    auto call = make(ExprKind::call, cur());
    adopt(*call, std::move(node));
    parse_call_args(*call);
    return call;
}

ExprPtr Parser::parse_filter_chain(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
        if (!start_inline) advance();
        const Token& name_tok = expect_name();
        std::string name = name_tok.value;
        while (is_op(".")) {
            advance();
            name += "." + expect_name().value;
        }
        auto filter = make(ExprKind::filter, name_tok);
        filter->name = name;
        adopt(*filter, std::move(node));
        if (is_op("(")) parse_call_args(*filter);
        Lookup found = find_filter(name, filter->filter);
        if (found == Lookup::unimplemented) fail_unsupported(name_tok, "filter '" + name + "'");
        node = std::move(filter);
        start_inline = false;
    }
    return node;
}

ExprPtr Parser::parse_test(ExprPtr node) {
    advance();  // 'is'
    bool negated = skip_name("not");
    const Token& name_tok = expect_name();
    std::string name = name_tok.value;
    while (is_op(".")) {
        advance();
        name += "." + expect_name().value;
    }
    auto test = make(ExprKind::test, name_tok);
    test->name = name;
    adopt(*test, std::move(node));
    const Token& c = cur();
    if (is_op("(")) {
        parse_call_args(*test);
    } else if ((c.type == Tok::name || c.type == Tok::string || c.type == Tok::integer ||
                c.type == Tok::floating || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is")) fail(c, "a test argument", "You cannot chain multiple tests with is");
        ExprPtr arg = parse_primary();
        adopt(*test, parse_postfix(std::move(arg)));
    }
    Lookup found = find_test(name, test->test);
    if (found == Lookup::unimplemented) fail_unsupported(name_tok, "test '" + name + "'");
    if (!negated) return test;
    auto neg = make(ExprKind::not_, name_tok);
    adopt(*neg, std::move(test));
    return neg;
}

}  // namespace slim::jinja
