/* include/exclude patterns: wcmatch.fnmatch with BRACE (whole string, `*` crosses dots, a
 * leading dot only matched literally, bracex brace expansion). Brace expectations were checked
 * against bash 5, whose expansions bracex reproduces. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/glob.h"

#define YES(p, n) check(p, n, true, __LINE__)
#define NO(p, n) check(p, n, false, __LINE__)

static void check(const char *pattern, const char *name, bool want, int line)
{
    if (vs_glob_match(pattern, name) != want)
        fail_msg("line %d: '%s' %s '%s'", line, pattern, want ? "should match" : "should not match", name);
}

/* The patterns of the shipped msModelSlim configs against real Qwen3-VL(-MoE) module names. */
static void test_real_config_patterns(void **state)
{
    (void)state;
    const char *expert = "model.language_model.layers.3.mlp.experts.17.gate_proj";
    YES("*", expert);
    YES("*experts*", expert);
    NO("*experts", expert);
    NO("*experts*", "model.language_model.layers.3.mlp.shared_expert.gate_proj");
    YES("*mlp.gate", "model.language_model.layers.0.mlp.gate");
    NO("*mlp.gate", "model.language_model.layers.0.mlp.gate_proj");
    NO("*mlp.gate", "model.language_model.layers.0.mlp.experts.0.gate_proj");
    YES("*linear_fc2", "model.visual.blocks.4.mlp.linear_fc2");
    YES("*linear_fc2", "model.visual.merger.linear_fc2");
    NO("*linear_fc2", "model.visual.blocks.4.mlp.linear_fc1");
    YES("*merger*", "model.visual.deepstack_merger_list.0.linear_fc1");
    YES("*merger*", "model.visual.merger.linear_fc1");
    YES("*deepstack_merger_list*", "model.visual.deepstack_merger_list.2.linear_fc2");
    NO("*deepstack_merger_list*", "model.visual.merger.linear_fc2");
    YES("model.language_model.layers.*.mlp.down_proj", "model.language_model.layers.12.mlp.down_proj");
    NO("model.language_model.layers.*.mlp.down_proj", "model.language_model.layers.12.mlp.experts.0.down_proj.x");
    YES("model.language_model.layers.*.mlp.down_proj", "model.language_model.layers.12.mlp.experts.0.mlp.down_proj");
    NO("model.language_model.layers.*.mlp.down_proj", "model.visual.blocks.0.mlp.down_proj");
    YES("model.language_model.layers.*.mlp.gate_proj", "model.language_model.layers.0.mlp.gate_proj");
    NO("model.language_model.layers.*.mlp.gate_proj", "model.language_model.layers.0.mlp.gate");
    YES("model.visual.blocks.*.attn.proj*", "model.visual.blocks.0.attn.proj");
    NO("model.visual.blocks.*.attn.proj*", "model.visual.blocks.0.attn.qkv");
    YES("model.visual.blocks.*.attn.qkv*", "model.visual.blocks.26.attn.qkv");
    YES("model.visual.blocks.*.mlp*", "model.visual.blocks.3.mlp.linear_fc1");
    YES("model.visual.blocks.*.norm1*", "model.visual.blocks.3.norm1");
    NO("model.visual.blocks.*.norm1*", "model.visual.blocks.3.norm2");
    YES("*visual.blocks.*.attn.proj*", "model.visual.blocks.26.attn.proj");
    NO("*visual.blocks.*.attn.proj*", "model.language_model.layers.0.self_attn.o_proj");
    YES("model.language_model.layers.0.self_attn.q_proj", "model.language_model.layers.0.self_attn.q_proj");
    NO("model.language_model.layers.0.self_attn.q_proj", "model.language_model.layers.10.self_attn.q_proj");
}

static void test_wildcards_and_classes(void **state)
{
    (void)state;
    YES("a.b[0]", "a.b[0]"); /* an exact string matches before any pattern rule */
    YES("a.b[0]", "a.b0");   /* ... then it is a class */
    NO("a.b[0]", "a.b[1]");
    YES("layers.?.q", "layers.7.q");
    NO("layers.?.q", "layers.17.q");
    YES("layers.??.q", "layers.17.q");
    YES("layers.[0-2].q", "layers.1.q");
    NO("layers.[0-2].q", "layers.3.q");
    YES("layers.[!0-2].q", "layers.3.q");
    NO("layers.[!0-2].q", "layers.0.q");
    YES("layers.[^0-2].q", "layers.3.q");
    YES("layers.[[:digit:]].q", "layers.5.q");
    YES("a[]]b", "a]b");
    YES("a[.]b", "a.b");
    YES("a[x", "a[x"); /* an unclosed class is literal */
    NO("Layers.*", "layers.0"); /* case-sensitive */
    YES("a*b*c", "a.x/b.y/c");  /* `*` crosses dots and slashes */
    YES("a*", "a");             /* `*` may be empty after a character */
    NO("abc", "abcd");          /* whole string */
    NO("bcd", "abcd");
    YES("a\\*b", "a*b"); /* escapes */
    NO("a\\*b", "axb");
    YES("a\\.b", "a.b");
}

/* Without DOTMATCH wcmatch never lets a wildcard take a leading dot, and `*` needs a character. */
static void test_leading_dot_and_empty(void **state)
{
    (void)state;
    NO("*", ".hidden");
    NO("*hidden", ".hidden");
    NO("?hidden", ".hidden");
    NO("[.]hidden", ".hidden");
    NO("{*,x}", ".hidden");
    YES(".*", ".hidden");
    YES("\\.*", ".hidden");
    YES("a*", "a.b");   /* only a leading dot is special */
    YES("a?b", "a.b");
    YES("*", "a/.b");   /* no FNM_PATHNAME: a dot after a slash is not leading */
    NO("*", "");
    NO("?", "");
    YES("", "");        /* the exact string */
    NO("{,x}", "");     /* an empty alternative is dropped, as bracex does */
}

static void test_braces(void **state)
{
    (void)state;
    YES("*.{q,k}_proj", "self_attn.q_proj");
    YES("*.{q,k}_proj", "self_attn.k_proj");
    NO("*.{q,k}_proj", "self_attn.v_proj");
    YES("*.{gate,up{,_x}}_proj", "mlp.up_x_proj");
    YES("*.{gate,up{,_x}}_proj", "mlp.up_proj");
    YES("*.{gate,up{,_x}}_proj", "mlp.gate_proj");
    YES("layers.{1,2}.{a,b}", "layers.2.b");
    NO("layers.{1,2}.{a,b}", "layers.3.b");
    YES("model.language_model.layers.{0,1}.mlp.{gate,up,down}_proj", "model.language_model.layers.1.mlp.down_proj");
    YES("a{,b}c", "ac");
    YES("a{,b}c", "abc");
    YES("{a,b}}", "a}");    /* a stray `}` after a group is literal */
    YES("x{[0-9],y}", "x7"); /* alternatives are patterns */
    YES("x[{a,b}]", "xa");   /* bracex knows no classes: this is x[a] or x[b] */
    NO("x[{a,b}]", "x{");
}

static void test_brace_ranges(void **state)
{
    (void)state;
    YES("model.language_model.layers.{0..3}.mlp.down_proj", "model.language_model.layers.2.mlp.down_proj");
    NO("model.language_model.layers.{0..3}.mlp.down_proj", "model.language_model.layers.4.mlp.down_proj");
    YES("layers.{10..12}.q", "layers.11.q");
    YES("layers.{12..10}.q", "layers.10.q"); /* descending */
    YES("layers.{0..10..5}.q", "layers.5.q");
    NO("layers.{0..10..5}.q", "layers.4.q");
    YES("layers.{0..10..-5}.q", "layers.10.q"); /* the increment's sign is ignored */
    YES("x{01..03}", "x02");                     /* zero padding */
    NO("x{01..03}", "x2");
    YES("x{-01..5}", "x000");
    YES("x{-3..-1}", "x-2");
    YES("x{a..e}", "xc");
    NO("x{a..e}", "xf");
    YES("x{e..a..2}", "xc");
    NO("x{e..a..2}", "xd");
    YES("x{1..3}{a..b}", "x3b");
    YES("x{a,{1..3}}", "x2");
    YES("x{1..a}", "x{1..a}"); /* no valid range: literal */
    NO("x{1..a}", "x1");
    YES("x{1.2}y", "x{1.2}y");
}

/* Malformed groups stay literal (bash/bracex rules); escaped and `${` braces never open one. */
static void test_malformed_braces(void **state)
{
    (void)state;
    YES("x{a", "x{a"); /* unclosed */
    NO("x{a", "xa");
    YES("x{a*", "x{abc"); /* ... the rest is still a pattern */
    YES("x{a,b", "x{a,b");
    NO("x{a,b", "xa");
    YES("x{a}", "x{a}"); /* no comma */
    NO("x{a}", "xa");
    YES("x{}", "x{}");
    YES("x{", "x{");
    YES("{a}b,c}", "a}b"); /* bash: a `}` before the first comma does not close */
    YES("{a}b,c}", "c");
    YES("{a,b{c,d}", "{a,bc"); /* the outer group is unclosed, the inner one expands */
    YES("{a,b{c,d}", "{a,bd");
    NO("{a,b{c,d}", "a");
    YES("\\{a,b}", "{a,b}"); /* escaped */
    NO("\\{a,b}", "a");
    YES("x{a\\,b,c}", "xa,b");
    YES("x{a\\,b,c}", "xc");
    YES("${a,b}", "${a,b}"); /* a shell variable, not a group */
    NO("${a,b}", "$a");
    YES("[{]x", "{x"); /* braces in a class with no group */
}

/* Hostile patterns: bounded work and no crash. */
static void test_limits(void **state)
{
    (void)state;
    /* 1024 expansions exceed wcmatch's limit of 1000: an error there, no match here */
    const char *big = "{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}";
    NO(big, "aaaaaaaaaa");
    YES(big, big); /* the exact string still matches */
    YES("{0..9}{0..9}{0..9}", "123"); /* 1000 is within it */
    NO("x{1..1001}", "x1");
    NO("x{1..9223372036854775807}", "x1");
    NO("x{-9223372036854775808..9223372036854775807}", "x1");
    YES("x{1..3..9223372036854775807}", "x1");
    YES("x{1..99999999999999999999}", "x{1..99999999999999999999}"); /* beyond int64: literal */
    YES("x{000000000000000000000000000000000001..2}", "x000000000000000000000000000000000002");

    /* nesting deeper than the expander goes: matched unexpanded (wcmatch's fallback) */
    enum { DEEP = 200 };
    char deep[2 * DEEP + 8], *p = deep;
    for (int i = 0; i < DEEP; i++)
        *p++ = '{';
    memcpy(p, "a,b", 3);
    p += 3;
    for (int i = 0; i < DEEP; i++)
        *p++ = '}';
    *p = '\0';
    NO(deep, "a");
    YES(deep, deep);
    char *open = malloc(100001);
    memset(open, '{', 100000);
    open[100000] = '\0';
    NO(open, "{");
    YES(open, open);
    free(open);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_config_patterns),
        cmocka_unit_test(test_wildcards_and_classes),
        cmocka_unit_test(test_leading_dot_and_empty),
        cmocka_unit_test(test_braces),
        cmocka_unit_test(test_brace_ranges),
        cmocka_unit_test(test_malformed_braces),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
