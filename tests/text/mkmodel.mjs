// tests/text/mkmodel.mjs DIR VOCAB — a tiny Llama checkpoint (1 layer, hidden 32) whose
// vocabulary is VOCAB ids, so that a real tokenizer's files fit beside it: config.json and
// model.safetensors (f16, fixed pseudo-random weights: the same bytes every run).
import fs from 'node:fs';
const [dir, V] = [process.argv[2], +process.argv[3]];
const H = 32, I = 64, HD = 16;
const cfg = { architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: H, intermediate_size: I,
  num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: HD, vocab_size: V,
  max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, hidden_act: 'silu', tie_word_embeddings: false };
const L = 'model.layers.0.';
const shapes = [['model.embed_tokens.weight', [V, H]], [L + 'input_layernorm.weight', [H]], [L + 'self_attn.q_proj.weight', [H, H]],
  [L + 'self_attn.k_proj.weight', [HD, H]], [L + 'self_attn.v_proj.weight', [HD, H]], [L + 'self_attn.o_proj.weight', [H, H]],
  [L + 'post_attention_layernorm.weight', [H]], [L + 'mlp.gate_proj.weight', [I, H]], [L + 'mlp.up_proj.weight', [I, H]],
  [L + 'mlp.down_proj.weight', [H, I]], ['model.norm.weight', [H]], ['lm_head.weight', [V, H]]];
const header = {}; let off = 0;
for (const [n, s] of shapes) { const b = s.reduce((a, x) => a * x, 1) * 2; header[n] = { dtype: 'F16', shape: s, data_offsets: [off, off + b] }; off += b; }
let hj = JSON.stringify(header); hj += ' '.repeat((8 - hj.length % 8) % 8);
const data = Buffer.alloc(off); let x = 12345;
for (const [n, s] of shapes) {
  const [a] = header[n].data_offsets, norm = s.length === 1;
  for (let i = 0; i < (header[n].data_offsets[1] - a) / 2; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data.writeUInt16LE(norm ? 0x3c00 : 0x2000 | (x >>> 16) & 0x83ff, a + 2 * i); // 1.0, or small values of either sign
  }
}
const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(hj.length));
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(`${dir}/config.json`, JSON.stringify(cfg, null, 1));
fs.writeFileSync(`${dir}/model.safetensors`, Buffer.concat([len, Buffer.from(hj), data]));
