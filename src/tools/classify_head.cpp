// Classifier heads as GGUF files (docs/FORMATS.md, "Classifier heads"), and
// the encoder fingerprint that ties a head to the model it was trained on.
#include <xxhash.h>

#include <fmt/format.h>

#include <cstring>
#include <deque>
#include <memory>

#include "format/error.h"
#include "tools/classify.h"

namespace slim {

namespace {

constexpr const char* kArch = "classifier";
constexpr const char* kFeaturePooled = "pooled";
constexpr const char* kFeatureTarget = "target_word";

GgufValue string_array(const std::vector<std::string>& v) {
    GgufArray a;
    a.elem_type = GgufType::string;
    a.count = v.size();
    for (const std::string& s : v) a.strings.emplace_back(s);
    return GgufValue::make_array(std::move(a));
}

std::span<const uint8_t> float_bytes(const std::vector<float>& v) {
    return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)};
}

}  // namespace

std::string encoder_fingerprint(const GgufFile& model) {
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                   &XXH3_freeState);
    XXH3_64bits_reset(state.get());
    for (const GgufTensorInfo& t : model.tensors()) {
        XXH3_64bits_update(state.get(), t.name.data(), t.name.size());
        const uint32_t type = uint32_t(t.type);
        XXH3_64bits_update(state.get(), &type, sizeof type);
        XXH3_64bits_update(state.get(), t.ne.data(), sizeof(int64_t) * t.ne.size());
        const std::span<const uint8_t> data = model.tensor_data(t);
        XXH3_64bits_update(state.get(), data.data(), data.size());
    }
    return fmt::format("xxh3-64:{:016x}", XXH3_64bits_digest(state.get()));
}

void write_classifier_head(const std::filesystem::path& path, const ClassifierHead& head) {
    const size_t c_n = head.labels.size();
    if (c_n < 2 || head.n_embd <= 0 || head.weight.size() != c_n * size_t(head.n_embd) ||
        head.bias.size() != c_n) {
        throw Error(ErrorKind::invalid_argument, path.string(), "head", std::nullopt,
                    "at least two labels with weights and biases for each", "a malformed head");
    }
    const bool target = !head.target_forms.empty();
    const std::string name = head.encoder_name + " classifier";
    GgufContents c;
    c.kvs.emplace_back("general.architecture", GgufValue::make_string(kArch));
    c.kvs.emplace_back("general.type", GgufValue::make_string("classifier"));
    c.kvs.emplace_back("general.name", GgufValue::make_string(name));
    c.kvs.emplace_back("classifier.labels", string_array(head.labels));
    c.kvs.emplace_back("classifier.embedding_length", GgufValue::make_u32(uint32_t(head.n_embd)));
    c.kvs.emplace_back("classifier.feature",
                       GgufValue::make_string(target ? kFeatureTarget : kFeaturePooled));
    if (target) c.kvs.emplace_back("classifier.target_words", string_array(head.target_forms));
    c.kvs.emplace_back("classifier.encoder.name", GgufValue::make_string(head.encoder_name));
    c.kvs.emplace_back("classifier.encoder.hash", GgufValue::make_string(head.encoder_hash));
    c.kvs.emplace_back("classifier.l2", GgufValue::make_f64(head.l2));
    c.kvs.emplace_back("classifier.train_lines", GgufValue::make_u64(head.n_train));

    GgufTensorToWrite w;
    w.name = "classifier.weight";
    w.n_dims = 2;
    w.ne = {head.n_embd, int64_t(c_n), 1, 1};
    w.data = float_bytes(head.weight);
    GgufTensorToWrite b;
    b.name = "classifier.bias";
    b.n_dims = 1;
    b.ne = {int64_t(c_n), 1, 1, 1};
    b.data = float_bytes(head.bias);
    c.tensors = {w, b};
    gguf_write(path, c);
}

namespace {

std::vector<std::string> read_strings(const GgufFile& file, std::string_view key) {
    const GgufArray* a = file.get_array(key, GgufType::string);
    if (!a) {
        throw Error(ErrorKind::bad_value, file.path(), std::string(key), std::nullopt,
                    "an array of strings", "none (key missing)");
    }
    return {a->strings.begin(), a->strings.end()};
}

std::string read_string(const GgufFile& file, std::string_view key) {
    std::optional<std::string_view> v = file.get_string(key);
    if (!v) {
        throw Error(ErrorKind::bad_value, file.path(), std::string(key), std::nullopt, "a string",
                    "none (key missing)");
    }
    return std::string(*v);
}

std::vector<float> read_f32_tensor(const GgufFile& file, std::string_view name, int64_t ne0,
                                   int64_t ne1) {
    const GgufTensorInfo* t = file.find_tensor(name);
    const std::string field = fmt::format("tensor '{}'", name);
    if (!t) {
        throw Error(ErrorKind::bad_value, file.path(), field, std::nullopt, "present", "missing");
    }
    if (t->type != GgmlType::f32 || t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 ||
        t->ne[3] != 1) {
        throw Error(ErrorKind::bad_value, file.path(), field, std::nullopt,
                    fmt::format("f32 [{}, {}]", ne0, ne1),
                    fmt::format("{} [{}, {}, {}, {}]", ggml_type_name(t->type), t->ne[0], t->ne[1],
                                t->ne[2], t->ne[3]));
    }
    std::vector<float> out(size_t(ne0 * ne1));
    const std::span<const uint8_t> bytes = file.tensor_data(*t);
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
    return out;
}

}  // namespace

ClassifierHead read_classifier_head(const GgufFile& file) {
    const std::optional<std::string_view> arch = file.get_string("general.architecture");
    if (!arch || *arch != kArch) {
        throw Error(ErrorKind::bad_value, file.path(), "general.architecture", std::nullopt,
                    "classifier (a head written by slim classify train)",
                    arch ? std::string(*arch) : "none (key missing)");
    }
    ClassifierHead h;
    h.labels = read_strings(file, "classifier.labels");
    if (h.labels.size() < 2) {
        throw Error(ErrorKind::bad_value, file.path(), "classifier.labels", std::nullopt,
                    "at least two labels", std::to_string(h.labels.size()));
    }
    const std::optional<uint64_t> n_embd = file.get_u64("classifier.embedding_length");
    if (!n_embd || *n_embd == 0 || *n_embd > (1u << 20)) {
        throw Error(ErrorKind::bad_value, file.path(), "classifier.embedding_length", std::nullopt,
                    "1 to 1048576", n_embd ? std::to_string(*n_embd) : "none (key missing)");
    }
    h.n_embd = int(*n_embd);
    const std::string feature = read_string(file, "classifier.feature");
    if (feature == kFeatureTarget) {
        h.target_forms = read_strings(file, "classifier.target_words");
        if (h.target_forms.empty()) {
            throw Error(ErrorKind::bad_value, file.path(), "classifier.target_words", std::nullopt,
                        "at least one word", "none");
        }
    } else if (feature != kFeaturePooled) {
        throw Error(ErrorKind::bad_value, file.path(), "classifier.feature", std::nullopt,
                    fmt::format("{} or {}", kFeaturePooled, kFeatureTarget), feature);
    }
    h.encoder_name = read_string(file, "classifier.encoder.name");
    h.encoder_hash = read_string(file, "classifier.encoder.hash");
    h.l2 = file.get_f64("classifier.l2").value_or(0.0);
    h.n_train = file.get_u64("classifier.train_lines").value_or(0);
    const int64_t c_n = int64_t(h.labels.size());
    h.weight = read_f32_tensor(file, "classifier.weight", h.n_embd, c_n);
    h.bias = read_f32_tensor(file, "classifier.bias", c_n, 1);
    return h;
}

void check_head_matches(const ClassifierHead& head, const std::string& head_path,
                        const GgufFile& model, int model_n_embd) {
    const std::string model_name(model.get_string("general.name").value_or("unnamed"));
    if (head.n_embd != model_n_embd) {
        throw Error(ErrorKind::bad_value, head_path, "classifier.embedding_length", std::nullopt,
                    fmt::format("{} (the embedding size of {}, {})", model_n_embd, model.path(),
                                model_name),
                    fmt::format("{} (a head for {})", head.n_embd, head.encoder_name));
    }
    const std::string hash = encoder_fingerprint(model);
    if (hash != head.encoder_hash) {
        throw Error(
            ErrorKind::bad_value, head_path, "classifier.encoder.hash", std::nullopt,
            fmt::format("{} ({}, the -m model {})", hash, model_name, model.path()),
            fmt::format("{} (the head was trained on {})", head.encoder_hash, head.encoder_name));
    }
}

}  // namespace slim
