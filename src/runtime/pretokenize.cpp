#include "runtime/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>
#include <string>

#include "format/error.h"

namespace slim {

namespace {

// Building blocks of llama.cpp's expressions (llama-vocab.cpp), in its syntax.
constexpr std::string_view kContractions =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr std::string_view kLlama3Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen35Tail =
    R"(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kJais2Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})";
constexpr std::string_view kDefaultPunct = R"([\p{P}\$\+<=>\^~\|]+)";
constexpr std::string_view kDigits3 = R"([0-9][0-9][0-9])";
constexpr std::string_view kDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr std::string_view kDeepseekLlmPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr std::string_view kCjkHangul = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
constexpr std::string_view kCjkKana = R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)";
constexpr std::string_view kDeepseek3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kSpark25Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+)";
constexpr std::string_view kBloom = " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+";
constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kOptContractions =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?)";
constexpr std::string_view kGpt4oTail =
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string cat(std::initializer_list<std::string_view> parts) {
    std::string s;
    for (std::string_view p : parts) s += p;
    return s;
}

std::vector<std::string> patterns_for(PreType type) {
    switch (type) {
        case PreType::pre_llama3:
            return {cat({kContractions, kLlama3Tail})};
        case PreType::pre_jais2:
            return {cat({kContractions, kJais2Tail})};
        case PreType::pre_deepseek_llm:
            return {"[\r\n]",  std::string(kDeepseekLlmLetters), std::string(kDeepseekLlmPunct),
                    R"(\s+$)", std::string(kCjkHangul),          R"(\p{N}+)"};
        case PreType::pre_deepseek3_llm:
            return {R"(\p{N}{1,3})", std::string(kCjkKana), std::string(kDeepseek3Main)};
        case PreType::pre_spark2_5:
            return {R"(\p{N}{1,3})", std::string(kCjkKana), std::string(kSpark25Main), R"(\p{N})"};
        case PreType::pre_deepseek_coder:
            return {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", std::string(kCjkHangul), R"(\p{N})"};
        case PreType::pre_falcon:
            return {R"([\p{P}\$\+<=>\^~\|`]+)", std::string(kGpt2), std::string(kDigits3)};
        case PreType::pre_starcoder:
            return {R"(\p{N})", std::string(kGpt2)};
        case PreType::pre_gpt2:
            return {std::string(kGpt2)};
        case PreType::pre_qwen2:
            return {cat({kContractions, kQwen2Tail})};
        case PreType::pre_qwen35:
            return {cat({kContractions, kQwen35Tail})};
        case PreType::pre_bloom:
            return {std::string(kBloom)};
        case PreType::pre_viking:
            return {std::string(kBloom), R"(\p{N})"};
        case PreType::pre_tekken:
            return {std::string(kTekken)};
        case PreType::pre_chameleon:
            return {R"(<sentinel:[0-9]+>)",    R"((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)",
                    "([\\t\\n]|    |  )",      R"(\p{N})",
                    R"([\p{P}!-/:-@\[-`{-~])", std::string(kGpt2)};
        case PreType::pre_gpt4o:
            return {cat({R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+)",
                         kOptContractions,
                         R"(|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*)",
                         kOptContractions, kGpt4oTail})};
        case PreType::pre_granite_emb_multi:
            return {
                cat({R"([^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+)",
                     kOptContractions,
                     R"(|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*)",
                     kOptContractions, kGpt4oTail})};
        case PreType::pre_superbpe:
            return {R"(\p{N}+)", R"((?=(\d{3})+(?!\d)))"};
        case PreType::pre_bailingmoe:
            return {
                R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)"};
        case PreType::pre_seed_coder:
            return {cat(
                {kContractions,
                 R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)"})};
        case PreType::pre_ufakzeka:
            return {std::string(kQwen2Tail.substr(1))};
        case PreType::pre_laguna:
            return {"[^\\n]+|[\\n]+", cat({kContractions, kQwen2Tail})};
        case PreType::pre_exaone_moe:
            return {cat(
                {kContractions,
                 R"(|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)"})};
        case PreType::pre_minicpm5:
            return {
                R"(\p{N}{1,3})",
                cat({kContractions,
                     R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"})};
        case PreType::pre_gemma4:
        case PreType::pre_sarvam_moe:
            return {};
        case PreType::pre_default:
            return {std::string(kDefaultPunct), std::string(kGpt2), R"(\p{N}+)",
                    std::string(kDigits3)};
    }
    return {};
}

// JIT-compiled matching needs its own stack for long words (a 100 KB run of
// letters is one word); one per thread, grown on demand up to 64 MiB.
struct MatchScratch {
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* stack = nullptr;
    pcre2_match_data* data = nullptr;
    MatchScratch() {
        context = pcre2_match_context_create(nullptr);
        stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
        if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
        data = pcre2_match_data_create(1, nullptr);
    }
    ~MatchScratch() {
        pcre2_match_data_free(data);
        pcre2_jit_stack_free(stack);
        pcre2_match_context_free(context);
    }
};

MatchScratch& scratch() {
    thread_local MatchScratch s;
    return s;
}

}  // namespace

std::string pcre2_pattern_from_llama(std::string_view p) {
    // White_Space: what llama.cpp's \s matches once it has mapped every
    // non-ASCII space to \v.
    constexpr std::string_view kSpaceSet = R"(\t-\r\x{85}\p{Z})";
    std::string out;
    bool in_class = false;
    for (size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            char e = p[i + 1];
            if (e == 's' || e == 'd') {
                std::string_view set = e == 's' ? kSpaceSet : std::string_view("0-9");
                if (!in_class) out.push_back('[');
                out.append(set);
                if (!in_class) out.push_back(']');
                ++i;
                continue;
            }
            if (e == 'S' && !in_class) {
                out.append("[^").append(kSpaceSet).push_back(']');
                ++i;
                continue;
            }
            if (e == 'p' && i + 5 < p.size() && p[i + 2] == '{' && p[i + 3] == 'L' &&
                p[i + 5] == '}') {
                out += "\\p{L}";  // \p{Lu}, \p{Ll}, ...: llama.cpp knows only "letter"
                i += 5;
                continue;
            }
            out += c;
            out += e;
            ++i;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
        } else if (c == ']' && in_class) {
            in_class = false;
        }
        out += c;
    }
    return out;
}

struct PreTokenizer::Regex {
    pcre2_code* code = nullptr;
    ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(PreType type) {
    split_newlines_ = type == PreType::pre_gemma4 || type == PreType::pre_sarvam_moe;
    for (const std::string& llama : patterns_for(type)) {
        std::string pattern = pcre2_pattern_from_llama(llama);
        // `$` at the end of a piece only, as std::regex reads it.
        uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;
        int err = 0;
        PCRE2_SIZE err_offset = 0;
        auto regex = std::make_unique<Regex>();
        regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                    options, &err, &err_offset, nullptr);
        if (!regex->code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            throw std::logic_error("pre-tokenizer pattern does not compile at " +
                                   std::to_string(err_offset) + ": " +
                                   reinterpret_cast<const char*>(msg) + ": " + pattern);
        }
        pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter
        patterns_.push_back(std::move(pattern));
        regexes_.push_back(std::move(regex));
    }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::split(std::string_view text, std::vector<TextSpan>& words) const {
    words.clear();
    if (text.empty()) return;
    words.push_back({0, uint32_t(text.size())});

    if (split_newlines_) {
        words.clear();
        size_t pos = 0;
        while (pos < text.size()) {
            bool nl = text[pos] == '\n';
            size_t start = pos;
            while (pos < text.size() && (text[pos] == '\n') == nl) ++pos;
            words.push_back({uint32_t(start), uint32_t(pos - start)});
        }
        return;
    }
    if (regexes_.empty()) return;

    // PCRE2 rejects UTF-8 surrogates, which llama.cpp's decoder lets through;
    // match on a copy where they read as U+FFFD (same length, same class).
    std::string patched;
    std::string_view subject_text = text;
    for (size_t i = 0; i + 1 < text.size(); ++i) {
        if (uint8_t(text[i]) == 0xED && uint8_t(text[i + 1]) >= 0xA0 && i + 2 < text.size()) {
            if (patched.empty()) patched.assign(text);
            patched[i] = char(0xEF), patched[i + 1] = char(0xBF), patched[i + 2] = char(0xBD);
        }
    }
    if (!patched.empty()) subject_text = patched;

    MatchScratch& s = scratch();
    std::vector<TextSpan> next;
    for (const auto& regex : regexes_) {
        next.clear();
        next.reserve(words.size() * 2);
        for (const TextSpan& piece : words) {
            auto subject = reinterpret_cast<PCRE2_SPTR>(subject_text.data() + piece.offset);
            size_t gap_start = 0;  // relative to the piece
            size_t search = 0;
            while (search <= piece.length) {
                int rc = pcre2_match(regex->code, subject, piece.length, search, PCRE2_NO_UTF_CHECK,
                                     s.data, s.context);
                if (rc == PCRE2_ERROR_NOMATCH) break;
                if (rc < 0) {
                    PCRE2_UCHAR msg[256];
                    pcre2_get_error_message(rc, msg, sizeof msg);
                    throw Error(ErrorKind::too_large, "", "text", piece.offset,
                                "text the pre-tokenizer can split",
                                reinterpret_cast<const char*>(msg));
                }
                PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
                size_t begin = ov[0], end = ov[1];
                if (begin > gap_start) {
                    next.push_back(
                        {uint32_t(piece.offset + gap_start), uint32_t(begin - gap_start)});
                }
                if (end > begin) {
                    next.push_back({uint32_t(piece.offset + begin), uint32_t(end - begin)});
                    gap_start = search = end;
                } else {
                    // An empty match splits the piece here; search on from the next character.
                    gap_start = begin;
                    if (begin >= piece.length) break;
                    search = begin + 1;
                    while (search < piece.length && (subject[search] & 0xC0) == 0x80) ++search;
                }
            }
            if (gap_start < piece.length) {
                next.push_back(
                    {uint32_t(piece.offset + gap_start), uint32_t(piece.length - gap_start)});
            }
        }
        words.swap(next);
    }
}

}  // namespace slim
