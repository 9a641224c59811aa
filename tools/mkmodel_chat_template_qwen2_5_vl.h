/* The Qwen2.5-VL chat template that vlmslim-mkmodel --family qwen2_5_vl writes as chat_template.json:
 * Qwen2.5-VL-7B-Instruct's (the same as Qwen2-VL Instruct's), verbatim, a copy of
 * docs/qwen2_5_vl_chat_template.jinja (1017 bytes, no trailing newline): the default system prompt,
 * every turn as <|im_start|>role ... <|im_end|>, image and video parts as vision placeholders counted
 * across the conversation, "Picture N: " / "Video N: " with add_vision_id. test_mkmodel_qwen2_5_vl.sh
 * checks that the two are the same and that it renders (Jinja2) what the qwen2_5_vl cases of
 * tests/golden/chat_template/cases.json expect. */
#ifndef VS_TOOLS_MKMODEL_CHAT_TEMPLATE_QWEN2_5_VL_H
#define VS_TOOLS_MKMODEL_CHAT_TEMPLATE_QWEN2_5_VL_H

static const char MK_CHAT_TEMPLATE_QWEN2_5_VL[] =
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: "
    "{% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}";

#endif
