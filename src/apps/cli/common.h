// Helpers shared by the verbs: where the default model is, process stats.
#pragma once

#include <string>

namespace slim::cli {

// The default model (Gemma 3 270M Q4_K_M) as `make demo` fetches it: $SLIM_MODEL,
// else models/ in the working directory, else models/ two levels above the
// binary (build/release/slim in a checkout). Returns the first candidate that
// exists, or the first candidate when none does (so the error names it).
std::string default_model_path();

// Peak and current resident set size of this process, in bytes.
size_t peak_rss_bytes();
size_t current_rss_bytes();

std::string human_bytes(double n);

}  // namespace slim::cli
