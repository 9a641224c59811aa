/* The Jinja engine (lexer, parser, renderer, filters, tests, methods): the input is a chat
 * template's source, rendered with fixed messages (text and image parts, a system prompt, an
 * assistant turn with reasoning) and the usual extra variables. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "text/chat_template.h"

static const char messages_json[] =
    "[{\"role\":\"system\",\"content\":\"You are helpful.\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"image\":\"a.jpg\"},"
    "{\"type\":\"text\",\"text\":\"Describe <b>this</b> image, 3 lines.\"}]},"
    "{\"role\":\"assistant\",\"content\":\"<think>\\nok\\n</think>\\n\\nA cat.\","
    "\"reasoning_content\":\"ok\",\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":{\"x\":1.5}}}]},"
    "{\"role\":\"tool\",\"content\":\"42\"},"
    "{\"role\":\"user\",\"content\":\"Thanks\\u00e9 \"}]";
static const char extra_json[] =
    "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"add_vision_id\":true,\"enable_thinking\":false,"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *messages, *extra;
    if (!messages) {
        fz_dir();
        messages = json_loads(messages_json, 0, NULL);
        extra = json_loads(extra_json, 0, NULL);
        if (!messages || !extra)
            abort();
    }
    if (size > (1 << 14))
        return 0;
    char *src = malloc(size + 1);
    if (!src)
        abort();
    memcpy(src, data, size);
    src[size] = 0;
    struct vs_chat_template *t = NULL;
    if (vs_chat_template_parse(src, "fuzz.jinja", &t) == VS_OK) {
        char *out = NULL;
        if (vs_chat_template_render(t, messages, true, extra, &out) == VS_OK)
            free(out);
        vs_chat_template_free(t);
    }
    free(src);
    return 0;
}
