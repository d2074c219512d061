#pragma once
// `bastion health URL`: a tiny HTTP GET for container HEALTHCHECKs (no curl in the image).
#include <string>

namespace bastion::app {
// Sends the admin bearer token from BASTION_ADMIN_TOKEN_FILE when that is set.
// 0 when the URL answers 2xx with a health document whose status is pass (or warn); else 1.
int probe_health(const std::string& url);
}  // namespace bastion::app
