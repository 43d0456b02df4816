#pragma once
// Where model files come from when the user names none, or names one as hf://REPO/FILE.
#include <string>

#include "core/result.h"

namespace ag {

// The built-in model (models/default.gguf): $AUTOGLM_MODEL when set; else the first that exists
// of <dir of the running executable>/../../../models/default.gguf (a build/<preset>/bin binary
// in a checkout) and the source tree's models/default.gguf baked in at configure time. When
// none exists the source-tree path is returned, so the caller's "cannot open" error names it.
std::string default_model_path();

// The -m argument as a local file: "" -> default_model_path() (which $AUTOGLM_MODEL may set to
// an hf:// URL as well); "hf://REPO/FILE" -> the cached
// copy under models_cache_dir(), downloaded first (pull.h) when missing; anything else as is.
Result<std::string> resolve_model_arg(const std::string& arg);

}  // namespace ag
