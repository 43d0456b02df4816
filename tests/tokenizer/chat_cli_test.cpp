// The chat and fill-in-the-middle prompts of the command line: `autoglm tokenize --chat` with the
// reference vocabularies, `autoglm generate --chat / --infill-prefix / --infill-suffix` with
// stories260K (which has neither a chat template nor FIM tokens, so errors are checked too, and a
// copy with FIM token ids added checks the infill prompt).
#include <unistd.h>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "scratch_dir.h"
#include "test_util.h"

namespace ag::tok {
namespace {

using nlohmann::json;

const std::string kBinary = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm";
const std::string kStories = test::shared_path("models/stories260K.gguf");

std::string vocab_path(const std::string& name) {
  return test::shared_path("reference/tokenizer/ggml-vocab-" + name + ".gguf");
}

// Per process (ctest runs the tests of this binary as concurrent processes), removed at exit.
std::string temp(const std::string& name) { return ag::test::scratch_path(name); }

std::string write_temp(const std::string& name, const std::string& content) {
  const std::string path = temp(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

RunResult run(const std::string& args) {
  const std::string out = temp("stdout"), err = temp("stderr");
  const int status = std::system((quote(kBinary) + " " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(out), test::read_file(err)};
}

void expect_one_line_error(const RunResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_EQ(r.out, "");
}

const char* kQwenPrompt =
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nWrite hello world in C.<|im_end|>\n"
    "<|im_start|>assistant\n";

TEST(TokenizeChat, RendersWithTheModelsTemplateAndTokenizesSpecials) {
  const std::string msgs = write_temp("user.json", R"([{"role": "user", "content": "Write hello world in C."}])");
  const RunResult r = run("tokenize -m " + vocab_path("qwen2") + " --chat " + msgs + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json out = json::parse(r.out);
  // The Qwen2 template in the vocabulary adds its default system turn when none is given.
  EXPECT_EQ(out["prompt"], kQwenPrompt);
  const auto ids = out["ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(ids, test::reference_vocab("qwen2").encode(kQwenPrompt, true, true));
  // <|im_start|> system \n ... <|im_start|> assistant \n, as Qwen's tokenizer gives them.
  ASSERT_GT(ids.size(), 6u);
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 3), (std::vector<int32_t>{151644, 8948, 198}));
  EXPECT_EQ(std::vector<int32_t>(ids.end() - 3, ids.end()), (std::vector<int32_t>{151644, 77091, 198}));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 151645), 2) << "two <|im_end|>";
}

// The output forms, on the small llama-spm vocabulary (each run loads it; qwen2 is 20x larger).
TEST(TokenizeChat, OutputForms) {
  const std::string spm = "tokenize -m " + vocab_path("llama-spm");
  // Default output: the prompt, a newline, the ids.
  const std::string msgs = write_temp("hi-list.json", R"([{"role": "user", "content": "Hi"}])");
  const RunResult plain = run(spm + " --chat " + msgs + " --chat-template llama2");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const auto ids = test::reference_vocab("llama-spm").encode("[INST] Hi [/INST]", true, true);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  EXPECT_EQ(plain.out, "[INST] Hi [/INST]\n" + line + "\n");

  // --text-only: the prompt exactly; the object form with its own variables.
  const std::string obj = write_temp("obj.json", R"({"messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Hi"}], "add_generation_prompt": false})");
  const RunResult text = run(spm + " --chat " + obj + " --chat-template chatml --text-only");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
  const RunResult no_gen = run(spm + " --chat " + msgs + " --chat-template chatml --text-only --no-generation-prompt");
  ASSERT_EQ(no_gen.exit_code, 0) << no_gen.err;
  EXPECT_EQ(no_gen.out, "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(TokenizeChat, BuiltinTemplatesAndErrors) {
  const std::string msgs = write_temp("hi.json", R"({"messages": [{"role": "user", "content": "Hi"}]})");
  // llama-spm has no template: a clear error naming the way out.
  expect_one_line_error(run("tokenize -m " + vocab_path("llama-spm") + " --chat " + msgs), "no chat template");
  expect_one_line_error(run("tokenize -m " + vocab_path("llama-spm") + " --chat " + msgs), "--chat-template");
  // With a built-in one: llama2 uses the vocabulary's <s> (stripped from the text, added as BOS).
  RunResult r = run("tokenize -m " + vocab_path("llama-spm") + " --chat " + msgs + " --chat-template llama2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["prompt"], "[INST] Hi [/INST]");
  const auto ids = out["ids"].get<std::vector<int32_t>>();
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 1) << "BOS";
  EXPECT_EQ(ids, test::reference_vocab("llama-spm").encode("[INST] Hi [/INST]", true, true));
  // A template file instead.
  const std::string tmpl = write_temp("t.jinja", "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}");
  r = run("tokenize -m " + vocab_path("gpt-2") + " --chat " + msgs + " --chat-template-file " + tmpl + " --text-only");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<user>Hi");

  // Errors in the input (checked on the small llama-spm vocabulary: each run loads it).
  const std::string spm = "tokenize -m " + vocab_path("llama-spm") + " --chat-template chatml --chat ";
  expect_one_line_error(run("tokenize -m " + vocab_path("llama-spm") + " --chat " + msgs + " --chat-template nope"),
                        "--chat-template");
  expect_one_line_error(run(spm + write_temp("bad.json", "[{")), "not valid JSON");
  expect_one_line_error(run(spm + write_temp("nomsg.json", "{}")), "no \"messages\"");
  expect_one_line_error(run(spm + "/nonexistent.json"), "/nonexistent.json");
  expect_one_line_error(run(spm + write_temp("norole.json", R"([{"content": "x"}])")), "role");
  expect_one_line_error(run(spm + msgs + " 'some text'"), "--chat");
}

// stories260K with FIM token ids added to its metadata (three of its byte tokens stand in).
std::string stories_with_fim() {
  const std::string path = temp("stories-fim.gguf");
  auto file = gguf::File::open(kStories);
  EXPECT_TRUE(file.ok());
  gguf::Writer w;
  for (const auto& [key, value] : file->metadata()) w.set(key, value);
  w.set("tokenizer.ggml.fim_pre_token_id", gguf::Value(uint32_t{3}));
  w.set("tokenizer.ggml.fim_suf_token_id", gguf::Value(uint32_t{4}));
  w.set("tokenizer.ggml.fim_mid_token_id", gguf::Value(uint32_t{5}));
  for (const auto& t : file->tensors())
    EXPECT_TRUE(w.add_tensor(t.name, t.type, t.shape, {t.data, static_cast<size_t>(t.n_bytes)}).ok());
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(GenerateChat, TemplateFromTheCommandLine) {
  const std::string flags = " -n 3 --temp 0 --json --threads 1";
  // stories260K has no chat template.
  expect_one_line_error(run("generate -m " + kStories + " --chat Hello" + flags), "no chat template");
  RunResult r = run("generate -m " + kStories + " --chat Hello --chat-template chatml" + flags);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto stories = test::load_tokenizer(kStories);
  ASSERT_TRUE(stories.ok());
  json out = json::parse(r.out);
  EXPECT_EQ(out["prompt_tokens"].get<std::vector<int32_t>>(),
            stories->encode("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", true, true));
  EXPECT_EQ(out["completion_tokens"].size(), 3u);

  r = run("generate -m " + kStories + " --chat Hello --system " + quote("Tell a story.") + " --chat-template chatml" +
          flags);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = json::parse(r.out);
  EXPECT_EQ(out["prompt_tokens"].get<std::vector<int32_t>>(),
            stories->encode("<|im_start|>system\nTell a story.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
                            "<|im_start|>assistant\n",
                            true, true));

  // Prompt options exclude each other; one of them is needed.
  EXPECT_NE(run("generate -m " + kStories + " -p Hi --chat Hello" + flags).exit_code, 0);
  EXPECT_NE(run("generate -m " + kStories + " --system S -p Hi" + flags).exit_code, 0);
  expect_one_line_error(run("generate -m " + kStories + flags), "give a prompt");
}

TEST(GenerateChat, FillInTheMiddle) {
  const std::string flags = " -n 2 --temp 0 --json --threads 1";
  const std::string prefix = "Once upon a time", suffix = " happily ever after.";
  // No FIM tokens: a clear error naming the model.
  expect_one_line_error(run("generate -m " + kStories + " --infill-prefix " + quote(prefix) + " --infill-suffix " +
                            quote(suffix) + flags),
                        "fill-in-the-middle");
  const std::string fim = stories_with_fim();
  auto tokenizer = test::load_tokenizer(fim);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message;
  const auto pre = tokenizer->encode(prefix, false, false);
  const auto suf = tokenizer->encode_continuation(suffix);

  RunResult r = run("generate -m " + fim + " --infill-prefix " + quote(prefix) + " --infill-suffix " + quote(suffix) +
                    flags);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int32_t> expected = {1, 3};  // BOS, <prefix>
  expected.insert(expected.end(), pre.begin(), pre.end());
  expected.push_back(4);
  expected.insert(expected.end(), suf.begin(), suf.end());
  expected.push_back(5);
  EXPECT_EQ(json::parse(r.out)["prompt_tokens"].get<std::vector<int32_t>>(), expected);

  r = run("generate -m " + fim + " --infill-prefix " + quote(prefix) + " --infill-suffix " + quote(suffix) +
          " --fim-order spm" + flags);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expected = {1, 3, 4};
  expected.insert(expected.end(), suf.begin(), suf.end());
  expected.push_back(5);
  expected.insert(expected.end(), pre.begin(), pre.end());
  EXPECT_EQ(json::parse(r.out)["prompt_tokens"].get<std::vector<int32_t>>(), expected);

  EXPECT_NE(run("generate -m " + fim + " --infill-prefix a --chat b" + flags).exit_code, 0);
}

}  // namespace
}  // namespace ag::tok
