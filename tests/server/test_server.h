#pragma once
// A server on 127.0.0.1 (a free port) over stories260K, or over the engine tests' fake backend
// (with the stories260K tokenizer) when a test needs slow or controllable steps.
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <httplib.h>

#include "../engine/fake_backend.h"
#include "engine/engine.h"
#include "engine/model_backend.h"
#include "gguf/gguf.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "server/http_server.h"
#include "tokenizer/chat_template.h"

namespace ag::server::testing {

inline std::string stories_path() { return std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf"; }

struct TestServer {
  std::unique_ptr<Model> model;
  std::unique_ptr<KvCache> kv;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::unique_ptr<tok::ChatTemplate> chat_template;
  std::unique_ptr<engine::Backend> backend;
  engine::testing::FakeBackend* fake = nullptr;  // when made with a fake backend
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<HttpServer> http;
  int port = 0;

  ~TestServer() {
    if (engine) engine->shutdown(std::chrono::milliseconds(0));
    if (http) http->stop();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c;
  }
};

struct TestServerOptions {
  bool fake = false;       // the fake backend instead of the model
  int n_blocks = 256;
  int block_size = 16;
  int n_ctx = 256;
  engine::SchedulerConfig scheduler;
  ServerOptions server;
  bool ready = true;
};

inline std::unique_ptr<TestServer> start_server(TestServerOptions o = {}) {
  auto t = std::make_unique<TestServer>();
  auto model = Model::load(stories_path(), ModelOptions{1, DType::F16});
  if (!model.ok()) {
    ADD_FAILURE() << model.error().message;
    return nullptr;
  }
  t->model = std::move(*model);
  auto tokenizer = tok::Tokenizer::from_gguf(t->model->file());
  if (!tokenizer.ok()) {
    ADD_FAILURE() << tokenizer.error().message;
    return nullptr;
  }
  t->tokenizer = std::make_unique<tok::Tokenizer>(std::move(*tokenizer));
  auto tmpl = tok::ChatTemplate::builtin("chatml");
  if (!tmpl.ok()) {
    ADD_FAILURE() << tmpl.error().message;
    return nullptr;
  }
  t->chat_template = std::make_unique<tok::ChatTemplate>(std::move(*tmpl));
  if (o.fake) {
    auto fake = std::make_unique<engine::testing::FakeBackend>(t->tokenizer->n_tokens(), o.n_blocks, o.block_size);
    fake->first_token_ = 259;  // text pieces only
    t->fake = fake.get();
    t->backend = std::move(fake);
  } else {
    auto kv = KvCache::create(t->model->hparams(), o.n_blocks, o.block_size, DType::F16);
    if (!kv.ok()) {
      ADD_FAILURE() << kv.error().message;
      return nullptr;
    }
    t->kv = std::move(*kv);
    t->backend = std::make_unique<engine::ModelBackend>(*t->model, *t->kv);
  }
  engine::EngineConfig ec;
  ec.scheduler = o.scheduler;
  ec.n_ctx = o.n_ctx;
  auto engine = engine::Engine::create(ec, *t->backend, *t->tokenizer);
  if (!engine.ok()) {
    ADD_FAILURE() << engine.error().message;
    return nullptr;
  }
  t->engine = std::move(*engine);
  o.server.host = "127.0.0.1";
  o.server.port = 0;
  if (o.server.http_threads == 256) o.server.http_threads = 80;
  t->http = std::make_unique<HttpServer>(o.server);
  auto port = t->http->start();
  if (!port.ok()) {
    ADD_FAILURE() << port.error().message;
    return nullptr;
  }
  t->port = *port;
  if (o.ready) {
    ServingContext ctx;
    ctx.engine = t->engine.get();
    ctx.tokenizer = t->tokenizer.get();
    ctx.chat_template = t->chat_template.get();
    ctx.model_id = "stories260K";
    ctx.created = 1700000000;
    t->http->set_ready(ctx);
  }
  return t;
}

inline void make_ready(TestServer& t) {
  ServingContext ctx;
  ctx.engine = t.engine.get();
  ctx.tokenizer = t.tokenizer.get();
  ctx.chat_template = t.chat_template.get();
  ctx.model_id = "stories260K";
  ctx.created = 1700000000;
  t.http->set_ready(ctx);
}

}  // namespace ag::server::testing
