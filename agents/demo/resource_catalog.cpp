#include "demo/resource_catalog.hpp"

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "demo/content.hpp"

namespace bastion::demo {
namespace {

constexpr std::string_view kStaticTextUri = "test://static-text";
constexpr std::string_view kStaticBinaryUri = "test://static-binary";
constexpr std::string_view kTemplatePrefix = "test://template/";
constexpr std::string_view kTemplateSuffix = "/data";
constexpr std::int64_t kStaticTtlMs = 300000;

json::object describe(std::string_view uri, std::string_view name, std::string_view title,
                      std::string_view description, std::string_view mime_type) {
  json::object resource;
  resource["uri"] = uri;
  resource["name"] = name;
  resource["title"] = title;
  resource["description"] = description;
  resource["mimeType"] = mime_type;
  return resource;
}

json::object text_contents(std::string_view uri, std::string_view mime_type,
                           std::string_view text) {
  json::object entry;
  entry["uri"] = uri;
  entry["mimeType"] = mime_type;
  entry["text"] = text;
  json::array contents;
  contents.emplace_back(std::move(entry));
  json::object result;
  result["contents"] = std::move(contents);
  return result;
}

// The {id} of test://template/{id}/data: 1-64 characters of [A-Za-z0-9_-].
std::optional<std::string_view> template_id(std::string_view uri) {
  if (!uri.starts_with(kTemplatePrefix) || !uri.ends_with(kTemplateSuffix)) {
    return std::nullopt;
  }
  const std::string_view id = uri.substr(
      kTemplatePrefix.size(), uri.size() - kTemplatePrefix.size() - kTemplateSuffix.size());
  if (id.empty() || id.size() > 64) {
    return std::nullopt;
  }
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) {
      return std::nullopt;
    }
  }
  return id;
}

jsonrpc::RpcError not_found(std::string_view uri, protocol::Era era) {
  json::object data;
  data["uri"] = uri;
  return {
      era == protocol::Era::stateless ? jsonrpc::kInvalidParams : jsonrpc::kResourceNotFound2025,
      "Resource not found: " + std::string(uri), json::value(std::move(data))};
}

jsonrpc::RpcError bad_completion(std::string message) {
  return {jsonrpc::kInvalidParams, "Invalid params: " + std::move(message), {}};
}

}  // namespace

json::array list_resources(const CatalogState& state) {
  json::array out;
  // Static text first: clients (and the caching scenario) read the first listed resource.
  out.emplace_back(describe(kStaticTextUri, "static-text", "Static Text Resource",
                            "A static text resource for testing", "text/plain"));
  out.emplace_back(describe(kStaticBinaryUri, "static-binary", "Static Binary Resource",
                            "A static binary resource (PNG image) for testing", "image/png"));
  out.emplace_back(describe(kWatchedResourceUri, "watched-resource", "Watched Resource",
                            "Changes whenever test_trigger_resource_update is called; subscribe "
                            "to get notifications/resources/updated",
                            "text/plain"));
  if (state.dynamic_resource.load()) {
    out.emplace_back(describe(kDynamicResourceUri, "dynamic-resource", "Dynamic Resource",
                              "Listed while test_trigger_resource_list_change has it switched on",
                              "text/plain"));
  }
  return out;
}

json::array list_resource_templates() {
  json::object entry;
  entry["uriTemplate"] = "test://template/{id}/data";
  entry["name"] = "template";
  entry["title"] = "Resource Template";
  entry["description"] = "JSON data for any id (1-64 characters of A-Z a-z 0-9 _ -)";
  entry["mimeType"] = "application/json";
  json::array out;
  out.emplace_back(std::move(entry));
  return out;
}

bool resource_exists(std::string_view uri, const CatalogState& state) {
  return uri == kStaticTextUri || uri == kStaticBinaryUri || uri == kWatchedResourceUri ||
         (uri == kDynamicResourceUri && state.dynamic_resource.load()) ||
         template_id(uri).has_value();
}

std::variant<ResourceRead, jsonrpc::RpcError> read_resource(std::string_view uri,
                                                            const CatalogState& state,
                                                            protocol::Era era) {
  if (uri == kStaticTextUri) {
    return ResourceRead{
        text_contents(uri, "text/plain", "This is the content of the static text resource."),
        kStaticTtlMs};
  }
  if (uri == kStaticBinaryUri) {
    json::object entry;
    entry["uri"] = uri;
    entry["mimeType"] = "image/png";
    entry["blob"] = content::kPngBase64;
    json::array contents;
    contents.emplace_back(std::move(entry));
    json::object result;
    result["contents"] = std::move(contents);
    return ResourceRead{std::move(result), kStaticTtlMs};
  }
  if (uri == kWatchedResourceUri) {
    // Changes on demand, so it must not be served from a cache.
    return ResourceRead{text_contents(uri, "text/plain",
                                      "Watched resource content, version " +
                                          std::to_string(state.watched_version.load())),
                        0};
  }
  if (uri == kDynamicResourceUri && state.dynamic_resource.load()) {
    return ResourceRead{text_contents(uri, "text/plain", "Dynamic resource content."), 0};
  }
  if (const auto id = template_id(uri)) {
    json::object data;
    data["id"] = *id;
    data["templateTest"] = true;
    data["data"] = "Data for ID: " + std::string(*id);
    return ResourceRead{text_contents(uri, "application/json", json::serialize(data)),
                        kStaticTtlMs};
  }
  return not_found(uri, era);
}

std::variant<json::object, jsonrpc::RpcError> complete(const json::object& params) {
  const json::value* ref = params.if_contains("ref");
  const json::value* argument = params.if_contains("argument");
  if (ref == nullptr || !ref->is_object() || argument == nullptr || !argument->is_object()) {
    return bad_completion("completion/complete needs ref and argument objects");
  }
  const json::value* arg_name = argument->get_object().if_contains("name");
  const json::value* arg_value = argument->get_object().if_contains("value");
  if (arg_name == nullptr || !arg_name->is_string() || arg_value == nullptr ||
      !arg_value->is_string()) {
    return bad_completion("argument needs string name and value");
  }
  const json::object& reference = ref->get_object();
  const json::value* type = reference.if_contains("type");
  if (type == nullptr || !type->is_string()) {
    return bad_completion("ref.type must be ref/prompt or ref/resource");
  }

  std::vector<std::string_view> candidates;
  const std::string_view name = arg_name->get_string();
  if (type->get_string() == "ref/prompt") {
    const json::value* prompt = reference.if_contains("name");
    if (prompt == nullptr || !prompt->is_string()) {
      return bad_completion("ref/prompt needs a name");
    }
    if (prompt->get_string() == "test_prompt_with_arguments" &&
        (name == "arg1" || name == "arg2")) {
      candidates = {"paris", "park", "party", "test", "testValue1", "testValue2"};
    } else if (prompt->get_string() == "test_prompt_with_embedded_resource" &&
               name == "resourceUri") {
      candidates = {"test://static-text", "test://static-binary", "test://watched-resource"};
    } else if (prompt->get_string() != "test_prompt_with_arguments" &&
               prompt->get_string() != "test_prompt_with_embedded_resource") {
      return bad_completion("unknown prompt " + std::string(prompt->get_string()));
    }
  } else if (type->get_string() == "ref/resource") {
    const json::value* uri = reference.if_contains("uri");
    if (uri == nullptr || !uri->is_string()) {
      return bad_completion("ref/resource needs a uri");
    }
    if (uri->get_string() != "test://template/{id}/data") {
      return bad_completion("unknown resource template " + std::string(uri->get_string()));
    }
    if (name == "id") {
      candidates = {"1", "2", "3", "123", "456", "789"};
    }
  } else {
    return bad_completion("ref.type must be ref/prompt or ref/resource");
  }

  const std::string_view prefix = arg_value->get_string();
  json::array values;
  for (const auto candidate : candidates) {
    if (candidate.starts_with(prefix)) {
      values.emplace_back(candidate);
    }
  }
  json::object completion;
  completion["total"] = values.size();
  completion["hasMore"] = false;
  completion["values"] = std::move(values);
  json::object result;
  result["completion"] = std::move(completion);
  return result;
}

}  // namespace bastion::demo
