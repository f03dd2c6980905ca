// One turn of a conversation, shared by the data readers ({"messages": [...]}) and the prompt formats (chat templates).
#pragma once
#include <string>

namespace rlhf {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

}  // namespace rlhf
