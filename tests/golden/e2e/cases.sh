# The end-to-end golden cases: one definition shared by make_golden.sh (which writes the
# goldens) and tests/e2e/*.sh (which check vlmslim against them). Sourced by bash; paths are
# relative to the repository root.
#
# vs_case NAME sets:
#   VS_CASE_MKMODEL  vlmslim-mkmodel arguments (without --out)
#   VS_CASE_CONFIG   the YAML config
#   VS_CASE_TYPE     the --model_type display name
#   VS_CASE_PART_BYTES  empty, or a shard size in bytes replacing part_file_size (vlmslim:
#                    VLMSLIM_PART_FILE_BYTES, the reference: --part-bytes), for multi-shard output
VS_E2E_CASES="moe_bf16 moe_bf16_sharded moe_multishard_out dense_f16_tied dense_f32 quickstart q25_new_bf16 q25_tied_f16"

vs_case() {
  VS_CASE_PART_BYTES=
  case "$1" in
    moe_bf16) # MoE, bf16, one input file; W8A8_DYNAMIC experts + W8A16 attention; part_file_size 0
      VS_CASE_MKMODEL=(--family qwen3_vl_moe --preset tiny --dtype bf16 --seed 1)
      VS_CASE_CONFIG=tests/data/configs/moe_dynamic.yaml
      VS_CASE_TYPE=Qwen3-VL-30B-A3B ;;
    moe_bf16_sharded) # MoE, bf16, 3 input shards, a dense layer (mlp_only_layers), a
      # quantization_config to strip; first-entry-wins precedence; part_file_size 4
      VS_CASE_MKMODEL=(--family qwen3_vl_moe --preset tiny --dtype bf16 --seed 2 --shards 3 --layers 3
                       --mlp-only-layers 1 --deepstack 0,1 --quant-config-in-config)
      VS_CASE_CONFIG=tests/data/configs/moe_first_wins.yaml
      VS_CASE_TYPE=Qwen3-VL-235B-A22B ;;
    moe_multishard_out) # a small MoE written as several output shards (40000-byte parts)
      VS_CASE_MKMODEL=(--family qwen3_vl_moe --preset tiny --dtype bf16 --seed 5 --vision-hidden 16
                       --vocab 64 --experts 2 --topk 1)
      VS_CASE_CONFIG=tests/data/configs/moe_first_wins.yaml
      VS_CASE_TYPE=Qwen3-VL-30B-A3B
      VS_CASE_PART_BYTES=40000 ;;
    dense_f16_tied) # dense, f16, tied embeddings (lm_head written as a copy); part_file_size 0
      VS_CASE_MKMODEL=(--family qwen3_vl --preset tiny --dtype f16 --seed 3 --tie --vision-hidden 16)
      VS_CASE_CONFIG=tests/data/configs/dense_dynamic.yaml
      VS_CASE_TYPE=Qwen3-VL-4B-Instruct ;;
    q25_new_bf16) # Qwen2.5-VL in transformers >= 4.52's layout, 2 input shards, exported under its
      # published names; W8A16 down_projs, W8A8_DYNAMIC elsewhere, float merger; part_file_size 4
      VS_CASE_MKMODEL=(--family qwen2_5_vl --layout new --preset tiny --dtype bf16 --seed 6 --shards 2)
      VS_CASE_CONFIG=tests/data/configs/qwen2_5_vl_mixed.yaml
      VS_CASE_TYPE=Qwen2.5-VL-32B-Instruct ;;
    q25_tied_f16) # Qwen2.5-VL published layout, f16, tied embeddings (the 3B's), written as 300000-byte parts
      VS_CASE_MKMODEL=(--family qwen2_5_vl --preset tiny --dtype f16 --seed 7 --tie)
      VS_CASE_CONFIG=tests/data/configs/qwen2_5_vl_mixed.yaml
      VS_CASE_TYPE=Qwen2.5-VL-3B-Instruct
      VS_CASE_PART_BYTES=300000 ;;
    dense_f32) # dense, f32, W8A16 only; part_file_size 4
      VS_CASE_MKMODEL=(--family qwen3_vl --preset tiny --dtype f32 --seed 4 --vision-hidden 16
                       --layers 3 --deepstack "")
      VS_CASE_CONFIG=tests/data/configs/dense_w8a16.yaml
      VS_CASE_TYPE=Qwen3-VL-32B-Instruct ;;
    quickstart) # the README quick start: default tiny MoE + the example config
      VS_CASE_MKMODEL=(--family qwen3_vl_moe --preset tiny)
      VS_CASE_CONFIG=examples/configs/qwen3_vl_moe_w8a8_dynamic.yaml
      VS_CASE_TYPE=Qwen3-VL-30B-A3B ;;
    *) echo "unknown e2e case '$1' (cases: $VS_E2E_CASES)" >&2; return 1 ;;
  esac
}
