// MCP content blocks and the binary fixtures (a small PNG and WAV) used by tools and prompts.
#pragma once

#include <boost/json.hpp>
#include <string_view>

namespace bastion::demo::content {

namespace json = boost::json;

// A 4x4 RGB PNG and a 16-sample 8 kHz mono WAV, generated for this agent, base64-encoded.
inline constexpr std::string_view kPngBase64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAGElEQVR42mOQ9+uBIwYg/"
    "tSjAUTYOHAEANk3EkVtMqfYAAAA"
    "AElFTkSuQmCC";
inline constexpr std::string_view kWavBase64 =
    "UklGRkQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+"
    "AAACABAAZGF0YSAAAAAAACUh4C4lIQAA294g0dveAAAlIeAuJSEAANve"
    "INHb3g==";

json::object text(std::string_view text);
json::object image_png();
json::object audio_wav();
json::object embedded_text_resource(std::string_view uri, std::string_view mime_type,
                                    std::string_view text);

// CallToolResult with the given content; is_error marks a tool-level failure.
json::object tool_result(json::array content, bool is_error = false);
json::object tool_text(std::string_view text);
json::object tool_error(std::string_view text);

}  // namespace bastion::demo::content
