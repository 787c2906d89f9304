// wgpack-manifest-rules.js — the one definition of what a manifest's kernel tables, dispatch
// facts, bindings and closed objects may hold. Two readers use it: wgpack-loader.js imports it,
// and pack/manifest_read.c (so `wgpack verify-bundle`, `run`, `kernel-ref`) embeds this file at
// build time and parses the object after `export default` with jansson: that object must stay
// strict JSON (no comments, no trailing commas, double quotes).
//
//  closed    object path -> the only keys it may have (other objects are open: forward,
//            program, metrics, options, ... are checked by their own readers)
//  kinds     kernel kind -> dispatch: { key: number of integers } (each in [1, dispatch_max]),
//            bindings: [binding, resource, type, when] with when "always", "scales" (the format
//            has a scales plane: an integer format) or "zeros" (an asymmetric integer format);
//            null for "op" kernels, whose bindings are numbered 0..n-1 with the uniform last;
//            grid: the kind's dispatch also has grid {x, div, y?} naming its fields (op kernels,
//            whose uniform fields are listed as fields [{name, type: u32|f32}])
//  variants  kernel variant -> [needs shader-f16, needs subgroups]
export default {
  "closed": {
    "shards[]": ["file", "component", "layer", "bytes", "xxh3", "integrity", "zst"],
    "shards[].zst": ["file", "bytes"],
    "tensors[]": ["name", "role", "component", "layer", "shape", "source_dtype", "format", "dtype", "rows", "K",
                  "padded_K", "bits", "group_size", "symmetric", "scale_dtype", "transposed_from_source", "bytes",
                  "metrics", "parts"],
    "tensors[].parts[]": ["shard", "row0", "rows", "data", "scales", "zeros"],
    "tensors[].parts[].plane": ["offset", "bytes"],
    "plans": ["progressive", "tabs"],
    "plans.progressive[]": ["priority", "name", "component", "shards", "bytes"],
    "kernels": ["params", "variants", "files", "by_profile", "ops_by_profile"],
    "kernels.files[]": ["file", "kind", "format", "op", "arith", "workgroup_size", "dispatch", "bindings", "params",
                        "fields", "xxh3", "integrity", "requires_shader_f16", "requires_subgroups"],
    "kernels.files[].bindings[]": ["binding", "resource", "type"]
  },
  "kinds": {
    "dequantize": {
      "dispatch": {},
      "bindings": [[0, "data", "read-only-storage", "always"], [1, "scales", "read-only-storage", "scales"],
                   [2, "zeros", "read-only-storage", "zeros"], [4, "output", "storage", "always"],
                   [5, "params", "uniform", "always"]]
    },
    "gemv": {
      "dispatch": {"rows_per_workgroup": 1},
      "bindings": [[0, "data", "read-only-storage", "always"], [1, "scales", "read-only-storage", "scales"],
                   [2, "zeros", "read-only-storage", "zeros"], [3, "input", "read-only-storage", "always"],
                   [4, "output", "storage", "always"], [5, "params", "uniform", "always"]]
    },
    "gemm": {
      "dispatch": {"tile": 2},
      "bindings": [[0, "data", "read-only-storage", "always"], [1, "scales", "read-only-storage", "scales"],
                   [2, "zeros", "read-only-storage", "zeros"], [3, "input", "read-only-storage", "always"],
                   [4, "output", "storage", "always"], [5, "params", "uniform", "always"]]
    },
    "gather": {
      "dispatch": {},
      "bindings": [[0, "data", "read-only-storage", "always"], [1, "scales", "read-only-storage", "scales"],
                   [2, "zeros", "read-only-storage", "zeros"], [3, "indices", "read-only-storage", "always"],
                   [4, "output", "storage", "always"], [5, "params", "uniform", "always"]]
    },
    "op": {"dispatch": {}, "grid": true, "bindings": null}
  },
  "variants": {"f32": [false, false], "f16": [true, false], "f32-sg": [false, true], "f16-sg": [true, true]},
  "binding_types": ["read-only-storage", "storage", "uniform"],
  "max_bindings": 16,
  "dispatch_max": 65535,
  "workgroup_invocations_max": 1024
};
