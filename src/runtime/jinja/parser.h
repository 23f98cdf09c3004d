// Builds the syntax tree from tokens with jinja2's grammar (parser.py): the
// same operator precedence, the same tags, the same places where a tuple or
// a conditional expression may appear. Statements live in parser.cpp,
// expressions in parser_expr.cpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "runtime/jinja/ast.h"
#include "runtime/jinja/lexer.h"

namespace slim::jinja {

struct Program {
    std::string name;
    Body body;
};

// Throws slim::Error: bad_value for syntax errors jinja2 also rejects,
// unsupported for constructs slim does not implement (naming them),
// too_large for nesting past the parser's depth limit.
std::unique_ptr<Program> parse(std::string_view source, const std::string& name);

// Nesting of expressions and blocks the parser accepts; deeper input is an
// error rather than a stack overflow.
constexpr int kMaxParseDepth = 200;
// Depth of one expression's tree, which chains such as `a + b + c` or
// `x|f|g` deepen without nesting.
constexpr uint32_t kMaxExprDepth = 400;

class Parser {
  public:
    Parser(std::vector<Token> tokens, const std::string& name);
    Body parse_template();

    // Expressions (parser_expr.cpp).
    ExprPtr parse_expression(bool with_condexpr = true);
    ExprPtr parse_tuple(bool simplified = false, bool with_condexpr = true,
                        const std::vector<std::string_view>& extra_end = {},
                        bool explicit_parentheses = false);
    ExprPtr parse_filter_chain(ExprPtr node, bool start_inline);

  private:
    class Depth {
      public:
        explicit Depth(Parser& p);
        ~Depth() { --p_.depth_; }
        Depth(const Depth&) = delete;
        Depth& operator=(const Depth&) = delete;

      private:
        Parser& p_;
    };

    const Token& cur() const { return tokens_[pos_]; }
    const Token& look() const { return tokens_[pos_ + 1 < tokens_.size() ? pos_ + 1 : pos_]; }
    const Token& advance();
    bool is_op(std::string_view op) const { return cur().type == Tok::op && cur().value == op; }
    bool is_name(std::string_view n) const { return cur().type == Tok::name && cur().value == n; }
    bool skip_op(std::string_view op);
    bool skip_name(std::string_view n);
    const Token& expect_op(std::string_view op);
    const Token& expect_name();
    const Token& expect(Tok type, const char* what);
    std::string describe(const Token& t) const;
    [[noreturn]] void fail(const Token& at, const std::string& expected, const std::string& found);
    [[noreturn]] void fail_unsupported(const Token& at, const std::string& construct);
    ExprPtr make(ExprKind kind, const Token& at) const;
    // Appends a child (null for an omitted slice part) and tracks the depth.
    void adopt(Expr& parent, ExprPtr child);
    void deepen(Expr& parent, const Expr& child);

    // Statements (parser.cpp).
    Body subparse(const std::vector<std::string_view>& end_tokens);
    Body parse_statements(const std::vector<std::string_view>& end_tokens, bool drop_needle);
    StmtPtr parse_statement();
    StmtPtr parse_for();
    StmtPtr parse_if();
    StmtPtr parse_set();
    StmtPtr parse_macro();
    StmtPtr parse_filter_block();
    StmtPtr parse_with();
    StmtPtr parse_print_tag();
    ExprPtr parse_assign_target(bool with_tuple, bool name_only,
                                const std::vector<std::string_view>& extra_end,
                                bool with_namespace);
    // Unknown filters and tests fail while compiling in jinja2, except under
    // an `if` or an inline if, where they fail only when run.
    void check_unknown(const Body& body, bool soft);
    void check_unknown(const Stmt& stmt, bool soft);
    void check_unknown(const Expr* expr, bool soft);

    // Expressions (parser_expr.cpp).
    ExprPtr parse_condexpr();
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr parse_compare();
    ExprPtr parse_math1();
    ExprPtr parse_concat();
    ExprPtr parse_math2();
    ExprPtr parse_pow();
    ExprPtr parse_unary(bool with_filter);
    ExprPtr parse_primary();
    ExprPtr parse_postfix(ExprPtr node);
    ExprPtr parse_filter_expr(ExprPtr node);
    ExprPtr parse_subscript(ExprPtr node);
    ExprPtr parse_subscribed();
    ExprPtr parse_call(ExprPtr node);
    void parse_call_args(Expr& node);
    ExprPtr parse_test(ExprPtr node);
    bool is_tuple_end(const std::vector<std::string_view>& extra_end) const;

    std::vector<Token> tokens_;
    size_t pos_ = 0;
    const std::string& name_;
    int depth_ = 0;
    int loop_depth_ = 0;  // enclosing for bodies within the current macro, for break/continue
};

}  // namespace slim::jinja
