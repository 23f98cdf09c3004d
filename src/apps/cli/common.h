// Helpers shared by the verbs: where the default model is, process stats.
#pragma once

#include <cstdint>
#include <string>

#include "tools/process_stats.h"

namespace slim {
class GgufFile;
}

namespace slim::cli {

// The default model (Gemma 3 270M Q4_K_M) as `make demo` fetches it: $SLIM_MODEL,
// else models/ in the working directory, else models/ two levels above the
// binary (build/release/slim in a checkout). Returns the first candidate that
// exists, or the first candidate when none does (so the error names it).
std::string default_model_path();

// The evaluation data (WikiText-2, HellaSwag, ARC) beside the checkout:
// $SLIM_DATA_DIR, else ../shared/testdata/eval from the working directory,
// else shared/testdata/eval beside the checkout the binary was built in.
// Returns the first that exists, or the first candidate (so errors name it).
std::string default_data_dir();

// "Gemma 3 270m (gemma-3-270m-Q4_K_M.gguf)": general.name and the file name,
// or the file name alone.
std::string model_name(const GgufFile& file, const std::string& path);

std::string human_bytes(double n);

// "42s", "3m05s", "1h02m03s".
std::string format_duration(double seconds);

// Progress of a long evaluation on stderr: one line per update on a log, a
// bar redrawn in place on a terminal. `unit` names what is counted ("chunks",
// "items"), `status` is what the verb adds after the count ("ppl 12.3456").
// The ETA assumes the remaining units take as long as the done ones, unless
// `work_done` (0..1] says what share of the work is done when units differ
// in size (`slim niah`'s cells grow with their context length).
class ProgressBar {
  public:
    explicit ProgressBar(std::string unit);
    void update(int done, int total, double seconds, const std::string& status,
                double work_done = -1);

  private:
    std::string unit_;
    bool tty_;
};

// The model's trained context from its metadata, checked before the model is
// loaded: Error(invalid_argument) naming `flag` when n_ctx is above it.
void check_trained_context(const GgufFile& file, int64_t n_ctx, const std::string& flag);

}  // namespace slim::cli
