// The real models read and written back byte for byte.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "format/gguf.h"
#include "test_paths.h"

namespace slim {
namespace {

class RealModelRoundTrip : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(RealModelRoundTrip, WritesBackIdentically) {
    const std::filesystem::path& path = GetParam();
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing: run scripts/get-models.sh";
    GgufFile file = GgufFile::open(path);
    std::vector<uint8_t> written = gguf_serialize(gguf_contents(file));
    std::ifstream in(path, std::ios::binary);
    std::vector<uint8_t> original((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    ASSERT_EQ(written.size(), original.size());
    EXPECT_TRUE(written == original);
}

TEST_P(RealModelRoundTrip, WriteGoesThroughTemporaryFile) {
    const std::filesystem::path& path = GetParam();
    ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing: run scripts/get-models.sh";
    GgufFile file = GgufFile::open(path);
    std::filesystem::path out =
        std::filesystem::temp_directory_path() / ("slim-roundtrip-" + path.filename().string());
    gguf_write(out, gguf_contents(file));
    GgufFile again = GgufFile::open(out);
    EXPECT_EQ(again.file_size(), file.file_size());
    EXPECT_EQ(again.tensors().size(), file.tensors().size());
    for (const auto& entry : std::filesystem::directory_iterator(out.parent_path())) {
        EXPECT_EQ(entry.path().string().find(out.filename().string() + ".tmp"), std::string::npos)
            << "temporary file left behind: " << entry.path();
    }
    std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Models, RealModelRoundTrip,
                         ::testing::Values(test::default_model(), test::smollm2_model()),
                         [](const auto& param) {
                             return param.index == 0 ? std::string("Gemma3_270M_Q4_K_M")
                                                     : std::string("SmolLM2_135M_Q4_1");
                         });

}  // namespace
}  // namespace slim
