// The console's assets as the bridge serves them: the right file for each path, nothing for
// any other, and the security headers on every one.
#include "web/console_assets.hpp"

#include <catch2/catch.hpp>

using namespace switchboard;

namespace {

net::http_request get(std::string target) {
  net::http_request request;
  request.method = "GET";
  request.target = std::move(target);
  return request;
}

std::string header(const net::http_response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name)
      return value;
  }
  return {};
}

}  // namespace

TEST_CASE("/ is the console page, /console/<file> its script and style", "[web]") {
  const auto page = web::console_asset("/");
  REQUIRE(page.has_value());
  CHECK(page->content_type == "text/html; charset=utf-8");
  CHECK(page->body.starts_with("<!doctype html>"));
  CHECK(page->body.find(R"(src="/console/console.js")") != std::string_view::npos);
  CHECK(page->body.find(R"(href="/console/console.css")") != std::string_view::npos);

  const auto script = web::console_asset("/console/console.js");
  REQUIRE(script.has_value());
  CHECK(script->content_type == "text/javascript; charset=utf-8");
  CHECK(script->body.find("'/calls'") != std::string_view::npos);

  const auto style = web::console_asset("/console/console.css");
  REQUIRE(style.has_value());
  CHECK(style->content_type == "text/css; charset=utf-8");
  CHECK_FALSE(style->body.empty());

  CHECK(web::console_asset("/console/index.html")->body == page->body);
}

TEST_CASE("no other path reaches a file", "[web]") {
  for (const auto* path :
       {"", "/console", "/console/", "/console/missing.js", "/console/../console.js",
        "/console/./console.js", "/console//console.js", "/console/console.js/",
        "/console/CONSOLE.JS", "/index.html", "/calls", "/console.js", "/console/%63onsole.js"}) {
    INFO(path);
    CHECK_FALSE(web::console_asset(path).has_value());
  }
}

TEST_CASE("the console is answered to GET only, with its security headers", "[web]") {
  const auto page = web::console_response(get("/?from=bookmark"));
  REQUIRE(page.has_value());
  CHECK(page->status == 200);
  CHECK(page->content_type == "text/html; charset=utf-8");
  const auto policy = header(*page, "Content-Security-Policy");
  CHECK(policy.starts_with("default-src 'self'"));
  CHECK(policy.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(policy.find("http") == std::string::npos);  // no other origin, no CDN
  CHECK(header(*page, "X-Content-Type-Options") == "nosniff");

  const auto script = web::console_response(get("/console/console.js"));
  REQUIRE(script.has_value());
  CHECK(header(*script, "X-Content-Type-Options") == "nosniff");

  auto post = get("/");
  post.method = "POST";
  CHECK_FALSE(web::console_response(post).has_value());
  CHECK_FALSE(web::console_response(get("/healthz")).has_value());
}
