#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>

#include "common/error.h"
#include "common/files.h"
#include "tokenizer/utf8.h"

namespace rlhf {

namespace {

const char* const kSpaceSymbol = "\xE2\x96\x81";      // U+2581 "▁", SentencePiece's spelling of a space
const char* const kUnknownSurface = " \xE2\x81\x87 ";  // " ⁇ ", what SentencePiece prints for the unknown piece

std::string replace_space_symbol(const std::string& piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, 3, kSpaceSymbol) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += piece[i++];
    }
  }
  return out;
}

// "<0x0A>" -> 10; -1 when the piece is not of that form.
int byte_of_piece(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    char c = piece[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Protocol-buffer wire format (protobuf.dev/programming-guides/encoding): a varint at `at`, advancing it; -1 when
// the bytes end first.
int64_t read_varint(const std::string& bytes, size_t& at) {
  uint64_t value = 0;
  for (int shift = 0; at < bytes.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<unsigned char>(bytes[at++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return static_cast<int64_t>(value);
  }
  return -1;
}

void write_varint(uint64_t value, std::string& out) {
  do {
    unsigned char byte = value & 0x7f;
    value >>= 7;
    out.push_back(static_cast<char>(value ? byte | 0x80 : byte));
  } while (value);
}

// Moves `at` past the value of a field of wire type `wire` (0 varint, 1 fixed 64, 2 length-delimited, 5 fixed 32);
// false on another type or when the bytes end first.
bool skip_value(const std::string& bytes, size_t& at, int wire) {
  if (wire == 0) return read_varint(bytes, at) >= 0;
  if (wire == 1 || wire == 5) return (at += wire == 1 ? 8 : 4) <= bytes.size();
  if (wire != 2) return false;
  const int64_t length = read_varint(bytes, at);
  if (length < 0 || static_cast<uint64_t>(length) > bytes.size() - at) return false;
  at += static_cast<size_t>(length);
  return true;
}

// The ModelProto with normalizer_spec.add_dummy_prefix = false (ModelProto field 3 is the NormalizerSpec, its field 3
// the flag; sentencepiece_model.proto): what HF's LlamaTokenizer(legacy=False) loads, so that a stretch of text after
// a special token gets no "▁" of its own. libsentencepiece's public header has no setter for it, and Debian ships no
// generated proto classes. "" when the bytes are not the wire format expected (the caller reports it).
std::string without_dummy_prefix(const std::string& model) {
  constexpr int64_t kNormalizerSpec = (3 << 3) | 2, kAddDummyPrefix = (3 << 3) | 0;  // field 3 of each, by wire type
  std::string out;
  size_t at = 0;
  bool normalizer_seen = false;
  while (at < model.size()) {
    const size_t field_start = at;
    const int64_t tag = read_varint(model, at);
    if (tag < 0) return "";
    if (tag != kNormalizerSpec) {
      if (!skip_value(model, at, static_cast<int>(tag & 7))) return "";
      out.append(model, field_start, at - field_start);
      continue;
    }
    // normalizer_spec: its fields but add_dummy_prefix, then add_dummy_prefix = false
    const size_t value_start = at;
    if (!skip_value(model, at, 2)) return "";
    size_t i = value_start;
    const int64_t length = read_varint(model, i);
    const std::string spec = model.substr(i, static_cast<size_t>(length));
    std::string edited;
    for (size_t j = 0; j < spec.size();) {
      const size_t start = j;
      const int64_t inner = read_varint(spec, j);
      if (inner < 0 || !skip_value(spec, j, static_cast<int>(inner & 7))) return "";
      if (inner != kAddDummyPrefix) edited.append(spec, start, j - start);
    }
    edited.push_back(static_cast<char>(kAddDummyPrefix));
    edited.push_back(0);
    write_varint(static_cast<uint64_t>(tag), out);
    write_varint(edited.size(), out);
    out += edited;
    normalizer_seen = true;
  }
  if (!normalizer_seen) {  // no normalizer_spec at all: one holding just the flag
    write_varint(kNormalizerSpec, out);
    write_varint(2, out);
    out.push_back(static_cast<char>(kAddDummyPrefix));
    out.push_back(0);
  }
  return out;
}

}  // namespace

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

void SentencePieceTokenizer::set_legacy(bool legacy) {
  legacy_ = legacy;
  if (legacy || plain_processor_) return;
  const std::string edited = without_dummy_prefix(serialized_);
  auto processor = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (edited.empty() || !processor->LoadFromSerializedProto(edited).ok())
    fail(where_, "a SentencePiece model whose normalizer can be read (for legacy: false)", "one that cannot");
  plain_processor_ = std::move(processor);
  std::vector<int> unk;
  if (processor_->unk_id() >= 0) plain_processor_->Encode(processor_->IdToPiece(processor_->unk_id()), &unk);
  unk_pieces_ = unk.size();
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_file(const std::string& path) {
  if (!file_exists(path)) fail(path, "a SentencePiece tokenizer.model", "no such file");
  return from_serialized(read_file(path), path);
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_serialized(const std::string& serialized,
                                                                                const std::string& where) {
  if (serialized.empty()) fail(where, "a SentencePiece model (a serialized ModelProto)", "an empty file");
  if (serialized[0] == '{') fail(where, "a SentencePiece model (a serialized ModelProto)", "JSON text");
  std::unique_ptr<SentencePieceTokenizer> tokenizer(new SentencePieceTokenizer());
  tokenizer->serialized_ = serialized;
  tokenizer->processor_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  sentencepiece::util::Status status;
  try {
    status = tokenizer->processor_->LoadFromSerializedProto(serialized);
  } catch (const std::exception& e) {
    // libsentencepiece reports most bad models with a status, but its trie builder throws (an empty piece in a
    // unigram model: "failed to insert key: zero-length key", found by fuzz_sentencepiece_model).
    fail(where, "a SentencePiece model (a serialized ModelProto)",
         std::string("one libsentencepiece cannot load: ") + e.what());
  }
  if (!status.ok()) fail(where, "a SentencePiece model (a serialized ModelProto)", "one libsentencepiece rejects: " + status.ToString());
  const auto& sp = *tokenizer->processor_;
  int size = sp.GetPieceSize();
  if (size <= 0) fail(where, "a SentencePiece model with pieces", "none");
  tokenizer->where_ = where;
  tokenizer->sp_size_ = size;
  tokenizer->pieces_.resize(size);
  tokenizer->surface_.resize(size);
  tokenizer->kind_.resize(size);
  int spaced_piece = -1;
  for (int id = 0; id < size; ++id) {
    const std::string& piece = sp.IdToPiece(id);
    tokenizer->pieces_[id] = piece;
    if (sp.IsControl(id)) {
      tokenizer->kind_[id] = 'c';
      tokenizer->surface_[id] = piece;
    } else if (sp.IsUnknown(id)) {
      tokenizer->kind_[id] = 'u';
      tokenizer->surface_[id] = kUnknownSurface;
    } else if (sp.IsByte(id) && byte_of_piece(piece) >= 0) {
      tokenizer->kind_[id] = 'b';
      tokenizer->surface_[id] = std::string(1, static_cast<char>(byte_of_piece(piece)));
    } else {
      tokenizer->kind_[id] = 'n';
      tokenizer->surface_[id] = replace_space_symbol(piece);
      if (spaced_piece < 0 && piece.compare(0, 3, kSpaceSymbol) == 0 && !sp.IsUnused(id)) spaced_piece = id;
    }
  }
  // Whether SentencePiece drops the first piece's leading space depends on the model's normalizer (add_dummy_prefix,
  // remove_extra_whitespaces), which the public header does not expose: ask the library itself.
  if (spaced_piece >= 0) {
    std::string text;
    if (sp.Decode(std::vector<int>{spaced_piece}, &text).ok())
      tokenizer->strip_leading_space_ = text.empty() || text[0] != ' ';
  }
  tokenizer->bos_id_ = sp.bos_id();
  tokenizer->eos_id_ = sp.eos_id();
  tokenizer->pad_id_ = sp.pad_id();
  tokenizer->rebuild_matcher();
  return tokenizer;
}

void SentencePieceTokenizer::add_tokens(const std::vector<AddedToken>& tokens) {
  // The tables grow to the largest id: as for tokenizer.json, ids may leave gaps but not more gaps than tokens.
  const int64_t entries = static_cast<int64_t>(pieces_.size() + tokens.size());
  const int64_t max_id = std::max<int64_t>(2 * entries, entries + 65536);
  for (const AddedToken& token : tokens) {
    if (token.content.empty()) continue;
    if (token.id >= max_id)
      fail(where_ + " (added token \"" + token.content + "\")", "an id below " + std::to_string(max_id),
           std::to_string(token.id));
    if (token.id < sp_size_) {
      // Already a piece (HF lists <s>, </s>, <unk> among added tokens): nothing to add unless it names another piece.
      if (pieces_[token.id] != token.content)
        fail(where_ + " (added token " + std::to_string(token.id) + ")", "the piece \"" + pieces_[token.id] + "\"",
             "\"" + token.content + "\"");
      continue;
    }
    if (token.id >= static_cast<int64_t>(pieces_.size())) {
      pieces_.resize(token.id + 1);
      surface_.resize(token.id + 1);
      kind_.resize(token.id + 1, 0);
    }
    pieces_[token.id] = token.content;
    surface_[token.id] = token.content;
    kind_[token.id] = token.special ? 's' : 'a';
    added_.push_back(token);
  }
  rebuild_matcher();
}

void SentencePieceTokenizer::rebuild_matcher() {
  std::vector<AddedToken> literal = added_;
  for (int id = 0; id < sp_size_; ++id) {
    if (kind_[id] != 'c' && kind_[id] != 'u') continue;
    AddedToken token;
    token.id = id;
    token.content = pieces_[id];
    token.special = true;
    literal.push_back(token);
  }
  matcher_ = AddedTokenMatcher(std::move(literal));
}

std::vector<int64_t> SentencePieceTokenizer::encode(const std::string& text, bool add_bos) const {
  utf8::require_valid(text, "text to encode");
  if (!legacy_) return encode_without_legacy(text, add_bos);
  std::vector<int64_t> ids;
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  std::vector<TextSegment> segments;
  matcher_.split(text, 0, text.size(), &segments);
  std::vector<int> piece_ids;
  for (const TextSegment& segment : segments) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    piece_ids.clear();
    auto status = processor_->Encode(text.substr(segment.begin, segment.end - segment.begin), &piece_ids);
    if (!status.ok()) fail(where_, "SentencePiece to encode the text", status.ToString());
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  }
  return ids;
}

std::vector<int64_t> SentencePieceTokenizer::encode_without_legacy(const std::string& given, bool add_bos) const {
  // HF's LlamaTokenizer(legacy=False): "▁" in the text reads as a space, one "▁" goes before the whole text, the
  // text is split at special and added tokens, and each stretch is encoded without a dummy prefix (one starting with
  // a space keeps it: encoded after the unknown piece, whose pieces are then dropped). A lone leading "▁" before a
  // special token is dropped.
  std::string text;
  for (size_t i = 0; i < given.size();) {
    if (given.compare(i, 3, kSpaceSymbol) == 0) text += ' ', i += 3;
    else text += given[i++];
  }
  text = kSpaceSymbol + text;
  std::vector<int64_t> ids;
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  std::vector<TextSegment> segments;
  matcher_.split(text, 0, text.size(), &segments);
  std::vector<int> piece_ids;
  for (size_t s = 0; s < segments.size(); ++s) {
    const TextSegment& segment = segments[s];
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    std::string stretch = text.substr(segment.begin, segment.end - segment.begin);
    // The prefix alone before a special token: dropped.
    if (s == 0 && stretch == kSpaceSymbol && segments.size() > 1 && is_special(segments[1].id)) continue;
    piece_ids.clear();
    const bool spaced = stretch.compare(0, 3, kSpaceSymbol) == 0 || (!stretch.empty() && stretch[0] == ' ');
    const std::string unk = processor_->unk_id() >= 0 ? processor_->IdToPiece(processor_->unk_id()) : "";
    auto status = plain_processor_->Encode(spaced ? unk + stretch : stretch, &piece_ids);
    if (!status.ok()) fail(where_, "SentencePiece to encode the text", status.ToString());
    const size_t skip = spaced ? std::min(unk_pieces_, piece_ids.size()) : 0;
    ids.insert(ids.end(), piece_ids.begin() + static_cast<std::ptrdiff_t>(skip), piece_ids.end());
  }
  return ids;
}

std::string SentencePieceTokenizer::decode_bytes(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out;
  for (int64_t id : ids) {
    if (id < 0 || id >= static_cast<int64_t>(pieces_.size()) || kind_[id] == 0) continue;
    char kind = kind_[id];
    if (skip_special && (kind == 'c' || kind == 's')) continue;
    const std::string& surface = surface_[id];
    // SentencePiece's "beginning of text" rule: while nothing has been written, a normal piece's leading space (the
    // dummy prefix) is dropped.
    if (out.empty() && kind == 'n' && strip_leading_space_ && !surface.empty() && surface[0] == ' ')
      out.append(surface, 1, std::string::npos);
    else
      out += surface;
  }
  return out;
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  return utf8::to_valid(decode_bytes(ids, skip_special));
}

int64_t SentencePieceTokenizer::token_to_id(const std::string& token) const {
  for (const AddedToken& added : added_)
    if (added.content == token) return added.id;
  int id = processor_->PieceToId(token);
  return id >= 0 && id < sp_size_ && pieces_[id] == token ? id : -1;
}

std::string SentencePieceTokenizer::id_to_token(int64_t id) const {
  return id >= 0 && id < static_cast<int64_t>(pieces_.size()) ? pieces_[id] : std::string();
}

bool SentencePieceTokenizer::is_special(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(kind_.size())) return false;
  return kind_[id] == 'c' || kind_[id] == 'u' || kind_[id] == 's';
}

float SentencePieceTokenizer::score(int64_t id) const {
  return id >= 0 && id < sp_size_ ? processor_->GetScore(static_cast<int>(id)) : 0.0f;
}

int SentencePieceTokenizer::piece_type(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(kind_.size())) return 0;
  switch (kind_[id]) {
    case 'u': return 2;
    case 'c': return 3;
    case 'b': return 6;
    case 'a': return 4;
    case 's': return 3;
    case 'n': return processor_->IsUnused(static_cast<int>(id)) ? 5 : 1;
    default: return 0;
  }
}

}  // namespace rlhf
