#include "web/console_assets.hpp"

#include "web/embedded_files.hpp"

#include <algorithm>

namespace switchboard::web {

namespace {

constexpr std::string_view console_prefix = "/console/";

std::string_view content_type_of(std::string_view name) {
  if (name.ends_with(".html"))
    return "text/html; charset=utf-8";
  if (name.ends_with(".js"))
    return "text/javascript; charset=utf-8";
  if (name.ends_with(".css"))
    return "text/css; charset=utf-8";
  return "application/octet-stream";
}

std::optional<asset> embedded(std::string_view name) {
  const auto files = embedded_files();
  const auto found = std::find_if(files.begin(), files.end(),
                                  [&](const embedded_file& file) { return file.name == name; });
  if (found == files.end())
    return std::nullopt;
  return asset{found->bytes, content_type_of(found->name)};
}

}  // namespace

std::optional<asset> console_asset(std::string_view path) {
  if (path == "/")
    return embedded("index.html");
  if (!path.starts_with(console_prefix))
    return std::nullopt;
  // Only the embedded names match, so "..", "/" or "%2e" cannot reach anything else.
  return embedded(path.substr(console_prefix.size()));
}

std::vector<std::pair<std::string, std::string>> console_security_headers() {
  return {
      {"Content-Security-Policy",
       "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      // The page is small and changes with the binary: always revalidate.
      {"Cache-Control", "no-cache"},
  };
}

std::optional<net::http_response> console_response(const net::http_request& request) {
  if (request.method != "GET")
    return std::nullopt;
  const auto found = console_asset(request.path());
  if (!found)
    return std::nullopt;
  net::http_response response;
  response.status = 200;
  response.content_type = std::string(found->content_type);
  response.body = std::string(found->body);
  response.headers = console_security_headers();
  return response;
}

}  // namespace switchboard::web
