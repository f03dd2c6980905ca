// Text normalizers a byte-level BPE tokenizer.json may ask for. Supported: none, NFC (Qwen2's), and a Sequence of NFC.
// Others (NFKC, Lowercase, Prepend/Replace of SentencePiece conversions, BertNormalizer, ...) are refused by name.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace rlhf {

class Normalizer {
 public:
  // `where` names the JSON location for errors. null -> no normalization.
  static Normalizer from_json(const nlohmann::json& spec, const std::string& where);
  bool active() const { return nfc_; }
  std::string normalize(const std::string& text) const;  // text is valid UTF-8
  nlohmann::ordered_json to_json() const { return spec_; }

 private:
  bool nfc_ = false;
  nlohmann::ordered_json spec_;
};

// Unicode Normalization Form C (canonical composition) via ICU.
std::string nfc(const std::string& text);

}  // namespace rlhf
