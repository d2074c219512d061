// Bearer JWTs and JWK sets from the outside world: the first byte picks which parser gets the rest.
// Nothing fuzzed may ever verify against the fixed key (that would be a forgery).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "guard/auth/jwt.hpp"

using namespace bastion::guard::auth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  // A P-256 public key (RFC 7515 appendix A.3): a real key, so signatures are really checked.
  static const auto keys = Jwks::parse(
      R"({"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256",)"
      R"("x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  if (!keys.ok() || keys.jwks->size() != 1) std::abort();
  switch (data[0] % 4) {
    case 0: {
      JwtVerifier verifier{"https://issuer.example", "https://mcp.example"};
      if (verifier.verify(rest, *keys.jwks, std::chrono::system_clock::now())) std::abort();
      break;
    }
    case 1:
      (void)parse_jwk(rest);
      break;
    case 2:
      (void)Jwks::parse(rest);
      break;
    default: {
      auto dot = rest.rfind('.');
      if (dot != std::string_view::npos &&
          verify_jws_signature(keys.jwks->keys()[0], rest.substr(0, dot), rest.substr(dot + 1))) {
        std::abort();
      }
    }
  }
  return 0;
}
