/* The chat template that vlmslim-mkmodel --family internvl (--layout original) writes into
 * tokenizer_config.json: a simple one of the Qwen kind, every turn as
 * <|im_start|>role\ncontent<|im_end|>\n, an image part as InternVL's "<image>\n" placeholder (which
 * InternVLChatModel.chat expands to <img><IMG_CONTEXT>...</img>), and the generation prompt. vlmslim
 * builds InternVL prompts as msModelSlim does, without the template; test_mkmodel_internvl.sh renders
 * it with Jinja2. */
#ifndef VS_TOOLS_MKMODEL_CHAT_TEMPLATE_INTERNVL_H
#define VS_TOOLS_MKMODEL_CHAT_TEMPLATE_INTERNVL_H

static const char MK_CHAT_TEMPLATE_INTERNVL[] =
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}<image>\n"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}";

/* The chat template of the InternVL3.5-*-HF repositories, which vlmslim-mkmodel --family internvl
 * --layout hf writes to chat_template.jinja as transformers' convert_internvl_weights_to_hf.py saves it
 * (its string literals hold real newlines, from Python's '\n'; no final newline): an image part is one
 * <IMG_CONTEXT>, which InternVLProcessor expands to <img>, image_seq_length <IMG_CONTEXT> a tile,
 * </img>. */
static const char MK_CHAT_TEMPLATE_INTERNVL_HF[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{'<|im_end|>\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{'<|im_start|>assistant\n' }}{% endif %}";

#endif
