#include "demo/content.hpp"

#include <utility>

namespace bastion::demo::content {

json::object text(std::string_view text) {
  json::object block;
  block["type"] = "text";
  block["text"] = text;
  return block;
}

json::object image_png() {
  json::object block;
  block["type"] = "image";
  block["data"] = kPngBase64;
  block["mimeType"] = "image/png";
  return block;
}

json::object audio_wav() {
  json::object block;
  block["type"] = "audio";
  block["data"] = kWavBase64;
  block["mimeType"] = "audio/wav";
  return block;
}

json::object embedded_text_resource(std::string_view uri, std::string_view mime_type,
                                    std::string_view text) {
  json::object resource;
  resource["uri"] = uri;
  resource["mimeType"] = mime_type;
  resource["text"] = text;
  json::object block;
  block["type"] = "resource";
  block["resource"] = std::move(resource);
  return block;
}

json::object tool_result(json::array content, bool is_error) {
  json::object result;
  result["content"] = std::move(content);
  if (is_error) {
    result["isError"] = true;
  }
  return result;
}

json::object tool_text(std::string_view message) {
  json::array blocks;
  blocks.emplace_back(text(message));
  return tool_result(std::move(blocks));
}

json::object tool_error(std::string_view message) {
  json::array blocks;
  blocks.emplace_back(text(message));
  return tool_result(std::move(blocks), true);
}

}  // namespace bastion::demo::content
