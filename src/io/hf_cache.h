// Models named by their Hugging Face Hub id ("org/name") are found in the local Hub cache, offline: nothing is ever
// downloaded. The cache is where huggingface_hub puts it: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; a model is models--ORG--NAME/snapshots/REVISION/,
// with REVISION the commit refs/main names (or the only snapshot when there is no refs/main).
#pragma once
#include <string>

namespace rlhf {

// `path` itself when it exists on disk or does not look like a Hub id; the snapshot folder of the id otherwise (one
// line on stderr says where it was found). rlhf::Error when a Hub id is in no local cache, naming the cache folder.
std::string resolve_model_path(const std::string& path);

// The Hub cache folder the lookup reads (the environment as above).
std::string hf_hub_cache_dir();

}  // namespace rlhf
