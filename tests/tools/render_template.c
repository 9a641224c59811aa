/* vs-render-template: renders chat templates given as JSON lines on stdin, one result line each on
 * stdout, so scripts can compare vlmslim's interpreter with Jinja2 on many templates at once
 * (tests/golden/chat_template/differential.py).
 *   in:  {"src": "...", "messages": [...], "add_generation_prompt": true, "vars": {...}}
 *        (messages default to [], add_generation_prompt to false, vars to none)
 *   out: {"out": "..."} or {"error": "<message>"} */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/status.h"
#include "text/chat_template.h"

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
        json_error_t err;
        json_t *in = json_loads(line, 0, &err), *res = json_object();
        const char *src = json_string_value(json_object_get(in, "src"));
        struct vs_chat_template *t = NULL;
        char *out = NULL;
        if (!src) {
            json_object_set_new(res, "error", json_string("bad input line: no \"src\" string"));
        } else if (vs_chat_template_parse(src, "template", &t) != VS_OK) {
            json_object_set_new(res, "error", json_string(vs_error_message()));
        } else {
            json_t *msgs = json_object_get(in, "messages"), *empty = json_array();
            if (vs_chat_template_render(t, msgs ? msgs : empty,
                                        json_is_true(json_object_get(in, "add_generation_prompt")),
                                        json_object_get(in, "vars"), &out) != VS_OK)
                json_object_set_new(res, "error", json_string(vs_error_message()));
            else
                json_object_set_new(res, "out", json_string(out));
            json_decref(empty);
        }
        char *s = json_dumps(res, JSON_COMPACT | JSON_ENSURE_ASCII);
        puts(s ? s : "{\"error\": \"out of memory\"}");
        fflush(stdout);
        free(s);
        free(out);
        vs_chat_template_free(t);
        json_decref(res);
        json_decref(in);
    }
    free(line);
    return 0;
}
