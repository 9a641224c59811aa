/* The `multimodal_vlm_modelslim_v1` YAML schema as typed structs, loaded and validated.
 *
 * Loading follows msModelSlim's PracticeConfig + pydantic models: unknown keys are errors
 * reported with their path ("spec.process[2].qconfig.act.scope: unknown value 'per_row'"),
 * `metadata` and extra top-level keys (YAML anchors) are allowed. */
#ifndef VS_CONFIG_QUANT_CONFIG_H
#define VS_CONFIG_QUANT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

#define VS_APIVERSION_VLM "multimodal_vlm_modelslim_v1"

enum vs_qdtype {
    VS_QDT_FLOAT, VS_QDT_INT8, VS_QDT_INT4, VS_QDT_MXFP8, VS_QDT_MXFP4, VS_QDT_FP8_E4M3,
};
enum vs_qscope {
    VS_QS_PER_TENSOR, VS_QS_PER_CHANNEL, VS_QS_PER_GROUP, VS_QS_PER_BLOCK,
    VS_QS_PER_TOKEN, VS_QS_PD_MIX, VS_QS_PER_HEAD, VS_QS_DUAL_SCALE,
};
const char *vs_qdtype_name(enum vs_qdtype d);   /* "int8", ... as in YAML */
const char *vs_qscope_name(enum vs_qscope s);   /* "per_tensor", ... */

struct vs_qconfig {
    enum vs_qdtype dtype;
    enum vs_qscope scope;
    bool symmetric;
    char method[32];        /* "minmax", "histogram", "none", "gptq", "ssz", ... */
    /* `ext` keys that vlmslim understands; unknown ext keys are kept out (ext is free-form
     * in msModelSlim and ignored by the quantizers we implement unless listed here). */
    int64_t ext_group_size; /* ext.group_size, 0 if absent */
    char ext_aggregation[16]; /* ext.aggregation_type: "", "max" or "mean" */
};

struct vs_pattern_list {
    char **items;
    size_t count;
    bool present; /* the key was given (an explicit empty list matches nothing) */
};

enum vs_subgraph_type {
    VS_SUBGRAPH_NORM_LINEAR = 1u << 0,
    VS_SUBGRAPH_LINEAR_LINEAR = 1u << 1,
    VS_SUBGRAPH_OV = 1u << 2,
    VS_SUBGRAPH_UP_DOWN = 1u << 3,
};

/* Every processor `type` of msModelSlim's registry. */
enum vs_proc_type {
    VS_PROC_LINEAR_QUANT,
    VS_PROC_ITER_SMOOTH,
    VS_PROC_SMOOTH_QUANT,
    VS_PROC_FLEX_SMOOTH_QUANT,
    VS_PROC_FLEX_AWQ_SSZ,
    VS_PROC_AWQ,
    VS_PROC_QUAROT,
    VS_PROC_ONLINE_QUAROT,
    VS_PROC_KV_SMOOTH,
    VS_PROC_DYNAMIC_CACHE,
    VS_PROC_FA3_QUANT,
    VS_PROC_AUTOROUND_QUANT,
    VS_PROC_FLATQUANT,
    VS_PROC_FLOAT_SPARSE,
    VS_PROC_SVD_RES,
    VS_PROC_ADAPT_ROTATION,
    VS_PROC_MODULE_FUNC,
    VS_PROC_GROUP,
    VS_PROC_LOAD,
    VS_PROC_ASCENDV1_SAVER,
    VS_PROC_ASCENDV1_SAVER_DISTRIBUTED,
    VS_PROC_MINDIE_FORMAT_SAVER,
    VS_PROC_COMPRESSED_TENSORS_SAVER, /* vlmslim's: Hugging Face compressed-tensors for vLLM/SGLang */
    VS_PROC_COUNT,
};
const char *vs_proc_type_name(enum vs_proc_type t); /* the YAML `type` string */

struct vs_linear_quant_config {
    struct vs_qconfig act;    /* defaults to float/per_tensor/symmetric/"none" when absent */
    struct vs_qconfig weight;
    struct vs_pattern_list include; /* default ["*"] when absent */
    struct vs_pattern_list exclude; /* default [] */
};

struct vs_iter_smooth_config {
    double alpha;      /* (0,1), default 0.9 */
    double scale_min;  /* (0,1), default 1e-5 */
    bool symmetric;    /* default true */
    unsigned subgraph_types; /* vs_subgraph_type bits; default all four */
    struct vs_pattern_list include, exclude;
    bool vision_subgraphs;   /* vlmslim's extension: the vision blocks' subgraphs too; default false */
};

struct vs_smooth_quant_config {
    double alpha; /* (0,1), default 0.5 */
    bool symmetric;
    struct vs_pattern_list include, exclude;
    bool vision_subgraphs; /* as iter_smooth's */
};

struct vs_quarot_config {
    bool online;              /* default false */
    int64_t block_size;       /* -1 or a power of two, default -1 */
    int64_t *down_proj_online_layers;
    size_t n_down_proj_online_layers;
    int64_t max_tp_size;      /* power of two >= 1, default 4 */
    bool export_extra_info;   /* default true */
};

struct vs_saver_config {
    int64_t part_file_size; /* GiB, >= 0, default 4; 0 = single file */
    char *save_path;        /* vlmslim's key: where a saver after the first writes; NULL if absent */
};

struct vs_processor_config {
    enum vs_proc_type type;
    char path[64]; /* "spec.process[2]" — for messages */
    union {
        struct vs_linear_quant_config linear_quant;
        struct vs_iter_smooth_config iter_smooth;
        struct vs_smooth_quant_config smooth_quant;
        struct vs_quarot_config quarot;
        struct vs_saver_config saver;
    } u; /* only for the types listed above; others carry no typed fields */
};

struct vs_practice_metadata {
    char *config_id;  /* NULL if absent */
    double score;     /* default 100 */
    /* label */
    int64_t w_bit, a_bit;   /* -1 if absent */
    int is_sparse, kv_cache; /* -1 absent, 0/1 */
    char *fa_bit;            /* NULL if absent (kept as text) */
    char **verified_model_types; size_t n_verified_model_types; bool has_verified_model_types;
    /* verified_tags: model_type -> list of scenarios, each a list of tags */
    struct vs_verified_tags {
        char *model_type;
        struct vs_tag_scenario { char **tags; size_t count; } *scenarios;
        size_t n_scenarios;
    } *verified_tags;
    size_t n_verified_tags;
};

enum vs_runner_kind { VS_RUNNER_AUTO, VS_RUNNER_MODEL_WISE, VS_RUNNER_LAYER_WISE, VS_RUNNER_DP_LAYER_WISE };

/* spec.default_text when a config gives none, and the --default_text of the other commands. */
#define VS_DEFAULT_TEXT "Describe this image in detail."

struct vs_quant_config {
    char *source_path;      /* the YAML file it came from */
    char *apiversion;
    struct vs_practice_metadata metadata;
    enum vs_runner_kind runner;   /* default layer_wise */
    struct vs_processor_config *process; size_t n_process;
    struct vs_processor_config *save; size_t n_save;   /* the last one is a saver */
    char *dataset;          /* default "mix_calib.jsonl" */
    char *default_text;     /* default VS_DEFAULT_TEXT */
};

/* Parses and validates a YAML file. Errors: VS_ERR_IO (unreadable, with the path),
 * VS_ERR_FORMAT (YAML syntax, with line and column; duplicate keys), VS_ERR_CONFIG (schema,
 * with the key path and what is allowed). */
enum vs_status vs_quant_config_load(const char *path, struct vs_quant_config **out);
void vs_quant_config_free(struct vs_quant_config *cfg);

#endif
