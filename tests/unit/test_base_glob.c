/* include/exclude patterns: wcmatch fnmatch with BRACE semantics (whole-string, `*` crosses dots). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/glob.h"

#define YES(p, n) assert_true(vs_glob_match(p, n))
#define NO(p, n) assert_false(vs_glob_match(p, n))

static void test_real_config_patterns(void **state)
{
    (void)state;
    const char *expert = "model.language_model.layers.3.mlp.experts.17.gate_proj";
    YES("*", expert);
    YES("*experts*", expert);
    NO("*experts", expert);
    YES("*mlp.gate", "model.language_model.layers.0.mlp.gate");
    NO("*mlp.gate", "model.language_model.layers.0.mlp.gate_proj");
    YES("*linear_fc2", "model.visual.blocks.4.mlp.linear_fc2");
    YES("*linear_fc2", "model.visual.merger.linear_fc2");
    NO("*linear_fc2", "model.visual.blocks.4.mlp.linear_fc1");
    YES("*merger*", "model.visual.deepstack_merger_list.0.linear_fc1");
    YES("model.language_model.layers.*.mlp.down_proj", "model.language_model.layers.12.mlp.down_proj");
    NO("model.language_model.layers.*.mlp.down_proj", "model.language_model.layers.12.mlp.experts.0.down_proj.x");
    YES("model.visual.blocks.*.attn.proj*", "model.visual.blocks.0.attn.proj");
    NO("model.visual.blocks.*.attn.proj*", "model.visual.blocks.0.attn.qkv");
    YES("*visual.blocks.*.attn.proj*", "model.visual.blocks.26.attn.proj");
}

static void test_exact_classes_and_wildcards(void **state)
{
    (void)state;
    YES("a.b[0]", "a.b[0]"); /* an exact string matches before pattern rules */
    YES("layers.?.q", "layers.7.q");
    NO("layers.?.q", "layers.17.q");
    YES("layers.[0-2].q", "layers.1.q");
    NO("layers.[0-2].q", "layers.3.q");
    YES("layers.[!0-2].q", "layers.3.q");
    NO("layers.[!0-2].q", "layers.0.q");
    NO("Layers.*", "layers.0"); /* case-sensitive */
    YES("a*b*c", "a.x/b.y/c");  /* `*` crosses dots and slashes */
    NO("abc", "abcd");          /* whole string */
}

static void test_braces(void **state)
{
    (void)state;
    YES("*.{q,k}_proj", "self_attn.q_proj");
    YES("*.{q,k}_proj", "self_attn.k_proj");
    NO("*.{q,k}_proj", "self_attn.v_proj");
    YES("*.{gate,up{,_x}}_proj", "mlp.up_x_proj");
    YES("*.{gate,up{,_x}}_proj", "mlp.up_proj");
    YES("layers.{1,2}.{a,b}", "layers.2.b");
    NO("layers.{1,2}.{a,b}", "layers.3.b");
    YES("x{a", "x{a");          /* unclosed: literal */
    NO("x{a", "xa");
    YES("x{a}", "x{a}");        /* no comma: literal, like wcmatch */
    YES("[{]x", "{x");          /* brace inside a class is a character */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_config_patterns),
        cmocka_unit_test(test_exact_classes_and_wildcards),
        cmocka_unit_test(test_braces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
