#include "tokenizer/normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include "common/error.h"
#include "common/json.h"

namespace rlhf {

namespace {

void parse(const nlohmann::json& spec, const std::string& where, bool* nfc_seen) {
  if (spec.is_null()) return;
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    fail(where, "null or an object with a \"type\"", json_excerpt(spec, 200));
  std::string type = spec["type"].get<std::string>();
  if (type == "NFC") {
    *nfc_seen = true;
  } else if (type == "Sequence" && spec.contains("normalizers") && spec["normalizers"].is_array()) {
    for (size_t i = 0; i < spec["normalizers"].size(); ++i)
      parse(spec["normalizers"][i], where + ".normalizers[" + std::to_string(i) + "]", nfc_seen);
  } else {
    fail(where, "no normalizer or NFC (the ones byte-level BPE tokenizers use)", "unsupported normalizer type \"" + type + "\"");
  }
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& spec, const std::string& where) {
  Normalizer result;
  parse(spec, where, &result.nfc_);
  result.spec_ = nlohmann::ordered_json::parse(spec.dump());
  return result;
}

std::string Normalizer::normalize(const std::string& text) const { return nfc_ ? nfc(text) : text; }

std::string nfc(const std::string& text) {
  // ASCII is always in NFC: skip ICU for the common case.
  bool ascii = true;
  for (unsigned char c : text)
    if (c >= 0x80) { ascii = false; break; }
  if (ascii) return text;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) fail("ICU", "an NFC normalizer", u_errorName(status));
  icu::UnicodeString source = icu::UnicodeString::fromUTF8(text);
  if (normalizer->isNormalized(source, status) && U_SUCCESS(status)) return text;
  status = U_ZERO_ERROR;
  icu::UnicodeString normalized = normalizer->normalize(source, status);
  if (U_FAILURE(status)) fail("NFC normalization", "success", u_errorName(status));
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

}  // namespace rlhf
