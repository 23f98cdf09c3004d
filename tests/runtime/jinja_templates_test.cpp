// Every chat template in the shared test data, rendered by slim and compared
// byte for byte with what Python jinja2 produced in transformers' setting
// (tools/reference/make_chat_template_refs.py), for the conversations in
// tests/reference/chat_templates/conversations.json.
//
// Where jinja2 itself raised, slim must raise too: raise_exception becomes
// invalid_argument with the same message, an unknown filter at run time
// `unsupported`, and Python's type and undefined errors bad_value.
//
// A template slim rejects while parsing, with an `unsupported` error naming
// the construct, counts as unsupported; the list below pins which ones are.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "format/error.h"
#include "runtime/jinja/template.h"
#include "test_paths.h"

namespace slim {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Templates slim rejects at parse time, with the construct it names.
const std::set<std::string> kExpectedUnsupported = {};

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

fs::path templates_dir() {
    return test::testdata_dir() / "chat-templates";
}
fs::path refs_dir() {
    return test::reference_dir() / "chat_templates";
}

const json& conversations() {
    static const json spec = json::parse(slurp(refs_dir() / "conversations.json"));
    return spec;
}

std::vector<std::string> template_names() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(templates_dir()))
        if (e.path().extension() == ".jinja") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

jinja::RenderOptions render_options() {
    const json& n = conversations()["now"];
    std::tm tm{};
    tm.tm_year = n["year"].get<int>() - 1900;
    tm.tm_mon = n["month"].get<int>() - 1;
    tm.tm_mday = n["day"].get<int>();
    tm.tm_hour = n["hour"].get<int>();
    tm.tm_min = n["minute"].get<int>();
    tm.tm_sec = n["second"].get<int>();
    std::time_t t = timegm(&tm);
    gmtime_r(&t, &tm);  // fills in the weekday and day of the year
    jinja::RenderOptions o;
    o.now = tm;
    return o;
}

const json* find_conversation(const std::string& name) {
    for (const auto& c : conversations()["conversations"])
        if (c["name"] == name) return &c;
    return nullptr;
}

std::atomic<int> g_supported{0}, g_unsupported{0}, g_failed{0};

class Summary : public ::testing::Environment {
  public:
    void TearDown() override {
        int total = g_supported + g_unsupported + g_failed;
        if (total == 0) return;
        std::printf(
            "[ jinja    ] chat templates: %d supported of %d (%d unsupported, %d failing)\n",
            g_supported.load(), total, g_unsupported.load(), g_failed.load());
    }
};
const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new Summary);

class ChatTemplate : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplate, RendersLikeJinja2) {
    const std::string name = GetParam();
    const json ref = json::parse(slurp(refs_dir() / (name + ".json")));
    ASSERT_EQ(ref["template"], name + ".jinja");
    const std::string source = slurp(templates_dir() / (name + ".jinja"));

    std::unique_ptr<jinja::Template> tpl;
    try {
        tpl = std::make_unique<jinja::Template>(source, name + ".jinja");
    } catch (const Error& e) {
        if (ref.contains("compile_error")) {
            ++g_supported;  // rejected by both
            return;
        }
        ++(kExpectedUnsupported.count(name) ? g_unsupported : g_failed);
        EXPECT_EQ(e.kind(), ErrorKind::unsupported) << e.what();
        EXPECT_FALSE(e.found().empty()) << e.what();
        EXPECT_TRUE(kExpectedUnsupported.count(name)) << "newly unsupported: " << e.what();
        return;
    }
    EXPECT_FALSE(kExpectedUnsupported.count(name)) << "now parses: update kExpectedUnsupported";
    ASSERT_FALSE(ref.contains("compile_error")) << "jinja2 rejects it: " << ref["compile_error"];

    const jinja::RenderOptions options = render_options();
    const json& spec = conversations();
    int mismatches = 0;
    for (const auto& r : ref["renders"]) {
        const std::string conv_name = r["conversation"];
        const json* conv = find_conversation(conv_name);
        ASSERT_NE(conv, nullptr) << conv_name;
        const bool agp = r["add_generation_prompt"];
        json vars = json::object();
        vars["messages"] = (*conv)["messages"];
        vars["tools"] = conv->value("uses_tools", false) ? spec["tools"] : json(nullptr);
        vars["documents"] = nullptr;
        vars["add_generation_prompt"] = agp;
        vars["bos_token"] = spec["bos_token"];
        vars["eos_token"] = spec["eos_token"];
        const std::string label = conv_name + (agp ? " +gen" : " -gen");
        if (r.contains("output")) {
            try {
                std::string out = tpl->render(vars, options);
                if (out != r["output"].get<std::string>()) ++mismatches;
                EXPECT_EQ(out, r["output"].get<std::string>()) << label;
            } catch (const Error& e) {
                ++mismatches;
                ADD_FAILURE() << label << ": " << e.what();
            }
            continue;
        }
        const std::string type = r["error"]["type"];
        const std::string message = r["error"]["message"];
        try {
            std::string out = tpl->render(vars, options);
            ++mismatches;
            ADD_FAILURE() << label << ": jinja2 raised " << type << " (" << message
                          << ") but slim rendered:\n"
                          << out;
        } catch (const Error& e) {
            ErrorKind want = ErrorKind::bad_value;
            if (type == "TemplateError") want = ErrorKind::invalid_argument;
            if (message.rfind("No filter named", 0) == 0 || message.rfind("No test named", 0) == 0)
                want = ErrorKind::unsupported;
            bool ok =
                e.kind() == want && (want != ErrorKind::invalid_argument || e.found() == message);
            if (!ok) ++mismatches;
            EXPECT_EQ(error_kind_name(e.kind()), std::string(error_kind_name(want)))
                << label << ": jinja2 raised " << type << " (" << message
                << "), slim: " << e.what();
            if (want == ErrorKind::invalid_argument) {
                EXPECT_EQ(e.found(), message) << label;
            }
        }
    }
    ++(mismatches == 0 ? g_supported : g_failed);
}

INSTANTIATE_TEST_SUITE_P(Shared, ChatTemplate, ::testing::ValuesIn(template_names()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                             std::string n = param_info.param;
                             for (char& c : n)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return n;
                         });

TEST(ChatTemplates, AllSixtyEightAreCovered) {
    EXPECT_EQ(template_names().size(), 68u);
    for (const auto& name : template_names())
        EXPECT_TRUE(fs::exists(refs_dir() / (name + ".json"))) << name;
}

}  // namespace
}  // namespace slim
