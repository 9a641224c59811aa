/* The chat template that vlmslim-mkmodel --family internvl writes into tokenizer_config.json: a
 * simple one of the Qwen kind, every turn as <|im_start|>role\ncontent<|im_end|>\n, an image part as
 * InternVL's "<image>\n" placeholder (which InternVLChatModel.chat expands to
 * <img><IMG_CONTEXT>...</img>), and the generation prompt. vlmslim builds InternVL prompts as
 * msModelSlim does, without the template; test_mkmodel_internvl.sh renders it with Jinja2. */
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

#endif
