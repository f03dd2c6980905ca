// config.json reader (model/config.h): any bytes as a Hugging Face config.json. An accepted config must give sizes the
// model can be built from, and must survive a round trip through the writer unchanged.
#include "fuzz_util.h"
#include "model/config.h"

using namespace rlhf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::MemoryFile file(data, size);
  fuzz::accepts([&] {
    ModelConfig c = load_model_config(file.path());
    FUZZ_EXPECT(c.vocab_size > 0 && c.hidden_size > 0 && c.num_layers > 0 && c.num_heads > 0 && c.head_dim > 0);
    FUZZ_EXPECT(c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads == 0 && c.intermediate_size > 0);
    FUZZ_EXPECT(c.parameter_count() > 0);  // computed in int64: UBSan reports an overflow
    fuzz::MemoryFile written(model_config_to_json(c));
    ModelConfig again = load_model_config(written.path());
    FUZZ_EXPECT(again.family == c.family && again.vocab_size == c.vocab_size && again.hidden_size == c.hidden_size);
    FUZZ_EXPECT(again.num_layers == c.num_layers && again.num_heads == c.num_heads &&
                again.num_kv_heads == c.num_kv_heads && again.head_dim == c.head_dim);
    FUZZ_EXPECT(again.intermediate_size == c.intermediate_size &&
                again.max_position_embeddings == c.max_position_embeddings &&
                again.tie_word_embeddings == c.tie_word_embeddings && again.eos_token_id == c.eos_token_id);
  });
  return 0;
}
