#!/usr/bin/env python3
"""tools/mkbad.py — writes the malformed-input corpus tests/bad/ (committed; rerun to
regenerate) and prints the expectation table that tests/e2e.sh holds: path|message fragment.
Standard library only: ONNX files are encoded with a few lines of protobuf wire format.
Cases that cannot live in git (FIFOs, device and escaping symlinks) are made at test time by
tools/mkfixtures.c."""
import json, os, shutil, struct, sys

OUT = sys.argv[1] if len(sys.argv) > 1 else 'tests/bad'
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
table = []

def put(rel, data, expect):
    p = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, 'wb').write(data if isinstance(data, bytes) else data.encode())
    if expect:
        table.append((rel, expect))

def st(header, data=b'', hlen=None):
    h = header.encode() if isinstance(header, str) else header
    return struct.pack('<Q', len(h) if hlen is None else hlen) + h + data

F4 = struct.pack('<4f', 1, 2, 3, 4)
ok = '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}'
put('st-empty.safetensors', b'', 'truncated: 0 bytes')
put('st-short.safetensors', b'\x10\0\0', 'truncated: 3 bytes')
put('st-hlen-too-big.safetensors', st(ok, F4, 1000000), 'header length 1000000 exceeds file size')
put('st-hlen-u64max.safetensors', st(ok, F4, 2**64 - 1), 'exceeds file size')
put('st-header-cut.safetensors', st(ok)[:30], 'exceeds file size')
put('st-not-object.safetensors', st('[1,2,3]'), 'header is not a JSON object')
put('st-bad-json.safetensors', st('{"w":{"dtype":'), 'header JSON invalid')
put('st-data-cut.safetensors', st(ok, F4[:8]), 'past the end of the data')
put('st-overlap.safetensors', st('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', F4), 'overlaps tensor')
put('st-hole.safetensors', st('{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', F4), 'hole of 8 bytes')
put('st-trailing.safetensors', st(ok, F4 + b'xxxx'), '4 bytes after the last tensor are not indexed')
put('st-size-mismatch.safetensors', st('{"w":{"dtype":"F32","shape":[3,2],"data_offsets":[0,16]}}', F4), 'shape x dtype needs 24')
put('st-shape-overflow.safetensors', st('{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}', F4), 'shape product overflows')
put('st-bytes-overflow.safetensors', st('{"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,16]}}', F4), 'byte size overflows')
put('st-negative-dim.safetensors', st('{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,16]}}', F4), 'not a non-negative integer')
put('st-float-dim.safetensors', st('{"w":{"dtype":"F32","shape":[2.5,4],"data_offsets":[0,16]}}', F4), 'not a non-negative integer')
put('st-bad-dtype.safetensors', st('{"w":{"dtype":"F17","shape":[2,2],"data_offsets":[0,16]}}', F4), "unsupported dtype")
put('st-dtype-not-string.safetensors', st('{"w":{"dtype":4,"shape":[2,2],"data_offsets":[0,16]}}', F4), 'missing dtype')
put('st-duplicate-name.safetensors', st('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', F4), 'duplicate object key')
put('st-offsets-reversed.safetensors', st('{"w":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}}', F4), 'data_offsets must be [begin, end]')
put('st-offsets-three.safetensors', st('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8,16]}}', F4), 'data_offsets must be [begin, end]')
put('st-offset-too-big-int.safetensors', st('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,99999999999999999999999]}}', F4), 'header JSON invalid')
put('st-huge-claim.safetensors', st('{"w":{"dtype":"F32","shape":[25000000000],"data_offsets":[0,100000000000]}}', F4), 'ends at byte 100000000000, past the end of the data')
put('st-non-utf8-name.safetensors', st(b'{"w\xff\xfe":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', F4), 'header JSON invalid')
put('st-empty-name.safetensors', st('{"":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', F4), 'empty tensor name')
put('st-metadata-not-object.safetensors', st('{"__metadata__":[1],' + ok[1:], F4), '__metadata__ is not an object')
put('st-metadata-value.safetensors', st('{"__metadata__":{"a":1},' + ok[1:], F4), "is not a string")
put('st-deep-nesting.safetensors', st('{"w":' + '[' * 5000 + ']' * 5000 + '}'), 'header JSON invalid')
put('st-entry-not-object.safetensors', st('{"w":42}', F4), 'header entry is not an object')
put('st-nine-dims.safetensors', st('{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,4],"data_offsets":[0,16]}}', F4), 'more than 8 dimensions')
# sharded
put('idx-escape/model.safetensors.index.json', '{"weight_map":{"w":"../../etc/passwd"}}', 'must be a file name in the index')
put('idx-not-object/model.safetensors.index.json', '[]', 'no "weight_map" object')
put('idx-missing-shard/model.safetensors.index.json', '{"weight_map":{"w":"nothere.safetensors"}}', 'No such file or directory')
put('idx-mismatch/model.safetensors.index.json', '{"weight_map":{"w":"a.safetensors","v":"a.safetensors"}}', "is not in shard")
put('idx-mismatch/a.safetensors', st(ok, F4), None)
put('idx-empty/model.safetensors.index.json', '{"weight_map":{}}', 'weight_map is empty')
put('idx-bad-json/model.safetensors.index.json', '{"weight_map":', 'invalid JSON')
put('cfg-bad/config.json', '{"model_type": "llama",', None)
put('cfg-bad/model.safetensors', st(ok, F4), None)
table.append(('cfg-bad', 'config.json: invalid JSON'))

# ---- ONNX, encoded by hand
def varint(v):
    v &= (1 << 64) - 1
    out = b''
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])
def fld(num, wt, payload):
    key = varint(num << 3 | wt)
    if wt == 0:
        return key + varint(payload)
    return key + varint(len(payload)) + payload
def s_(num, text): return fld(num, 2, text.encode() if isinstance(text, str) else text)
def tensor(name, dims, dtype, raw=None, floats=None, ext=None, nameless=False):
    t = b''.join(fld(1, 0, d) for d in dims) + fld(2, 0, dtype)
    if floats is not None:
        t += fld(4, 2, struct.pack(f'<{len(floats)}f', *floats))
    if not nameless:
        t += s_(8, name)
    if raw is not None:
        t += s_(9, raw)
    if ext is not None:
        for k, v in ext:
            t += s_(13, s_(1, k) + s_(2, v))
        t += fld(14, 0, 1)
    return t
def graph(inits=(), nodes=()):
    return b''.join(s_(1, n) for n in nodes) + s_(2, 'g') + b''.join(s_(5, t) for t in inits)
def model(g=None, ir=8):
    m = fld(1, 0, ir) + s_(8, fld(2, 0, 17))  # ir_version, opset_import {version 17}
    return m + (s_(7, g) if g is not None else b'')
def node(op, name, inputs=(), outputs=(), attrs=()):
    return b''.join(s_(1, i) for i in inputs) + b''.join(s_(2, o) for o in outputs) + s_(3, name) + s_(4, op) + b''.join(s_(5, a) for a in attrs)
def graph_attr(name, g): return s_(1, name) + s_(6, g) + fld(20, 0, 5)

R64 = bytes(64)
put('onnx-empty.onnx', b'', 'empty file')
put('onnx-garbage.onnx', b'this is not a protobuf at all \xff\xff\xff\xff', 'not a valid ONNX ModelProto')
good = model(graph([tensor('w', [4, 4], 1, raw=R64)], [node('MatMul', 'mm', ['x', 'w'], ['y'])]))
put('onnx-truncated.onnx', good[:len(good) // 2], 'not a valid ONNX ModelProto')
put('onnx-no-graph.onnx', model(None), 'ModelProto has no graph')
put('onnx-no-ir-version.onnx', s_(7, graph([tensor('w', [4, 4], 1, raw=R64)])), 'no ir_version')
put('onnx-raw-size.onnx', model(graph([tensor('w', [4, 4], 1, raw=bytes(60))])), 'raw_data has 60 bytes')
put('onnx-negative-dim.onnx', model(graph([tensor('w', [-4, 4], 1, raw=R64)])), 'negative dimension')
put('onnx-dims-overflow.onnx', model(graph([tensor('w', [1 << 40, 1 << 40, 1 << 40], 1, raw=R64)])), 'shape product overflows')
put('onnx-bad-dtype.onnx', model(graph([tensor('w', [4, 4], 99, raw=R64)])), 'unsupported data type 99')
put('onnx-typed-count.onnx', model(graph([tensor('w', [4, 4], 1, floats=[1.0] * 15)])), 'typed data has 15 values, shape needs 16')
put('onnx-nine-dims.onnx', model(graph([tensor('w', [1] * 8 + [16], 1, raw=R64)])), 'dimensions (max 8)')
put('onnx-nameless.onnx', model(graph([tensor('', [4, 4], 1, raw=R64, nameless=True)])), 'initializer without a name')
put('onnx-duplicate.onnx', model(graph([tensor('w', [4, 4], 1, raw=R64), tensor('w', [4, 4], 1, raw=R64)])), "duplicate tensor name")
g = graph([tensor('w', [4, 4], 1, raw=R64)])
for i in range(40):
    g = graph([], [node('If', f'if{i}', ['c'], ['o'], [graph_attr('then_branch', g)])])
put('onnx-deep-subgraphs.onnx', model(g), 'subgraphs nested deeper than 32')
def ext_model(loc, off='0', length='64'):
    kv = [('location', loc)] + ([('offset', off)] if off is not None else []) + ([('length', length)] if length is not None else [])
    if loc is None:
        kv = kv[1:]
    return model(graph([tensor('w', [4, 4], 1, ext=kv)]))
put('ext-absolute/model.onnx', ext_model('/etc/passwd'), 'is an absolute path')
put('ext-dotdot/model.onnx', ext_model('../outside.bin'), 'climbs out of the model directory')
put('ext-dotdot-deep/model.onnx', ext_model('a/../../x.bin'), 'climbs out of the model directory')
put('ext-backslash/model.onnx', ext_model('..\\x.bin'), 'climbs out of the model directory')
put('ext-empty-location/model.onnx', ext_model(''), 'empty external data location')
put('ext-no-location/model.onnx', ext_model(None), 'external data has no location')
put('ext-bad-offset/model.onnx', ext_model('d.bin', off='12x'), "bad external offset")
put('ext-bad-offset/d.bin', R64, None)
put('ext-offset-overflow/model.onnx', ext_model('d.bin', off='18446744073709551615'), 'past the end of the file')
put('ext-offset-overflow/d.bin', R64, None)
put('ext-offset-too-long/model.onnx', ext_model('d.bin', off='99999999999999999999999'), 'bad external offset')
put('ext-offset-too-long/d.bin', R64, None)
put('ext-range/model.onnx', ext_model('d.bin', off='32'), 'past the end of the file')
put('ext-range/d.bin', R64, None)
put('ext-length/model.onnx', ext_model('d.bin', length='60'), 'external length 60')
put('ext-length/d.bin', R64, None)
put('ext-missing/model.onnx', ext_model('nothere.bin'), 'No such file or directory')
put('ext-dir/model.onnx', ext_model('sub'), 'not a regular file')
put('ext-dir/sub/keep', b'', None)

# the expectation table lives in tests/e2e.sh (BAD_CORPUS); print it to paste there
for rel, msg in table:
    assert "'" not in msg, msg  # the table is a single-quoted shell string
    print(f'{rel}|{msg}')
