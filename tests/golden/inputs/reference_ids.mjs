// The text half of the model-input goldens, with @huggingface/jinja and @huggingface/tokenizers
// (independent of the C code): the checkpoint's chat template rendered for msModelSlim's message
// (one user turn: the image, then the text; add_generation_prompt), each <|image_pad|> replaced by
// the image's token count of pads as the Qwen-VL processor does, then tokenized.
// usage: node reference_ids.mjs MODEL_DIR SAMPLES.json PIXELS.json > ids.json
//   SAMPLES.json: [{"image": name, "text": t}, ...]; PIXELS.json: reference_pixels.py's output.
//   A sample that already has its expanded "prompt" (InternVL's msModelSlim query, written by
//   tests/reference/internvl_torch.py prompt) is only tokenized; a checkpoint with a
//   processor_config.json (InternVL's -HF layout) has its <IMG_CONTEXT> expanded as
//   InternVLProcessor does.
// Needs tests/golden/tokenizer/fetch.sh and tests/golden/chat_template/fetch.sh run first.
import { createRequire } from "module";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const from = (dir) => createRequire(path.join(here, "..", dir, "node", "package.json"));
const { Tokenizer } = from("tokenizer")("@huggingface/tokenizers");
const { Template } = from("chat_template")("@huggingface/jinja");

const [model, samplesPath, pixelsPath] = process.argv.slice(2);
const read = (name) => JSON.parse(fs.readFileSync(path.join(model, name), "utf8"));
const exists = (name) => fs.existsSync(path.join(model, name));

// transformers' order: chat_template.jinja, chat_template.json, tokenizer_config.json
const tc = exists("tokenizer_config.json") ? read("tokenizer_config.json") : {};
let source;
if (exists("chat_template.jinja")) source = fs.readFileSync(path.join(model, "chat_template.jinja"), "utf8");
else if (exists("chat_template.json")) source = read("chat_template.json").chat_template;
else source = tc.chat_template;
const template = new Template(source);
const special = {};
for (const k of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
  const v = tc[k] && typeof tc[k] === "object" ? tc[k].content : tc[k];
  if (typeof v === "string") special[k] = v;
}
const tok = new Tokenizer(read("tokenizer.json"), tc);
const merge = exists("preprocessor_config.json") ? read("preprocessor_config.json").merge_size : undefined;

const samples = JSON.parse(fs.readFileSync(samplesPath, "utf8"));
const pixels = JSON.parse(fs.readFileSync(pixelsPath, "utf8"));
const out = samples.map((s) => {
  if (s.prompt !== undefined)
    return { image: s.image, text: s.text, prompt: s.prompt, ids: tok.encode(s.prompt, { add_special_tokens: false }).ids };
  const messages = [{ role: "user", content: [{ type: "image", image: s.image }, { type: "text", text: s.text }] }];
  const prompt = template.render({ messages, add_generation_prompt: true, ...special });
  const px = pixels.find((p) => p.image === s.image);
  let expanded;
  if (exists("processor_config.json")) {
    // InternVLProcessor._insert_media_placeholders: <IMG_CONTEXT> -> <img> + <IMG_CONTEXT> x (image_seq_length x tiles) + </img>
    const T = read("processor_config.json").image_seq_length ?? 256;
    expanded = prompt.replace("<IMG_CONTEXT>", "<img>" + "<IMG_CONTEXT>".repeat(T * px.patches) + "</img>");
  } else {
    const n = (px.grid[0] * px.grid[1] * px.grid[2]) / (merge * merge);
    expanded = prompt.replace("<|image_pad|>", "<|image_pad|>".repeat(n));
  }
  return { image: s.image, text: s.text, prompt, ids: tok.encode(expanded, { add_special_tokens: false }).ids };
});
process.stdout.write(JSON.stringify(out) + "\n");
