#!/usr/bin/env python3
"""tools/mutate.py — a bounded mutation loop that drives the wgpack CLI with damaged copies of
real model files and bundle manifests for N seconds, and reports what broke.

    python3 tools/mutate.py --seconds 300 [--wgpack build-asan/wgpack] [--seed 1] [--json OUT]
    make mutate MUTATE_SECONDS=300        (builds and uses the ASan + UBSan binary)

Seeds: the repository's real models (models/tinygpt2, models/tinyllama with its sharded index
and config.json, the silero VAD ONNX models from node_modules) and the manifests of bundles
built from them at the start. Each iteration copies one seed, damages it (bit flips, bytes set to
boundary values, truncation, chunk duplication and deletion; for JSON — safetensors headers,
indexes, config.json, manifests, rules files — values replaced by extreme numbers, hostile
names such as "../x" or "https:evil#x", wrong types, deleted or duplicated entries) and runs
the command that reads it (inspect, build, verify-bundle, kernel-ref, a rebuild into a bundle
directory) under a time limit.

Counted as failures: a signal (segfault, abort), a sanitizer report (ASan/UBSan/LSan; the
sanitizers are given exit codes 86/87 so they cannot pass for wgpack's own 1-5), a run past the
time limit, an exit code outside 0-5, and for a refusal more or less than one line on stderr
(the contract for bad input). Inputs that failed are kept under build-mutate/failures/.
Exit status: 0 when nothing failed."""
import argparse, json, os, random, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAD = os.path.join(ROOT, 'node_modules/@ricky0123/vad-web/dist')
EXTREME = [-1, 0, 1, 3, 255, 256, 4096, 2**31 - 1, 2**31, 2**32, 2**53, 2**62, 2**63 - 1,
           -2**63, 1e300, -0.5, 0.5]
HOSTILE = ['', '.', '..', '../x', '../../ESC', '/etc/passwd', 'https:evil.example#x',
           '%2e%2e/x', 'a\\..\\b', 'kernels/../manifest.json', 'x' * 5000, '\u0000', 'q4g32s',
           'raw', 'f32', 'wasm/../../x']


def mutate_bytes(rng, data, lo=0, hi=None):
    """A few byte-level damages inside [lo, hi) (hi defaults to the end)."""
    b = bytearray(data)
    hi = len(b) if hi is None else min(hi, len(b))
    for _ in range(rng.randint(1, 4)):
        if hi <= lo:
            break
        op = rng.randrange(6)
        i = rng.randrange(lo, hi)
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[i] = rng.choice([0, 1, 0x7f, 0x80, 0xff])
        elif op == 2 and i + 8 <= len(b):
            b[i:i + 8] = rng.choice([0, 2**63 - 1, 2**64 - 1, 2**32, rng.getrandbits(64)]).to_bytes(8, 'little')
        elif op == 3:
            del b[rng.randrange(i, hi):]
            hi = len(b)
        elif op == 4:
            n = rng.randint(1, 64)
            b[i:i] = b[i:i + n]
        else:
            del b[i:i + rng.randint(1, 64)]
            hi = min(hi, len(b))
    return bytes(b)


def mutate_json(rng, doc):
    """Replace, delete or duplicate a few values anywhere in a JSON document."""
    for _ in range(rng.randint(1, 3)):
        paths = []

        def walk(x, p, depth):
            paths.append(p)
            if depth > 12 or len(paths) > 20000:
                return
            if isinstance(x, dict):
                for k, v in x.items():
                    walk(v, p + [k], depth + 1)
            elif isinstance(x, list):
                for k, v in enumerate(x[:50]):
                    walk(v, p + [k], depth + 1)
        walk(doc, [], 0)
        p = rng.choice(paths[1:] or paths)
        if not p:
            continue
        parent = doc
        for k in p[:-1]:
            parent = parent[k]
        k = p[-1]
        op = rng.randrange(6)
        if op == 0:
            parent[k] = rng.choice(EXTREME)
        elif op == 1:
            parent[k] = rng.choice(HOSTILE)
        elif op == 2:
            parent[k] = rng.choice([None, True, [], {}, [1, 2], {'a': 1}])
        elif op == 3:
            if isinstance(parent, dict):
                del parent[k]
            else:
                parent.pop(k)
        elif op == 4 and isinstance(parent, list):
            parent.insert(k, json.loads(json.dumps(parent[k])))
        elif op == 5 and isinstance(parent[k], (int, float)) and not isinstance(parent[k], bool):
            parent[k] = parent[k] + rng.choice([-256, -1, 1, 4, 256, 2**40])
        else:
            parent[k] = rng.choice(EXTREME + HOSTILE)
    return doc


def st_parts(data):
    n = int.from_bytes(data[:8], 'little')
    return n, data[8:8 + n], data[8 + n:]


class Run:
    def __init__(self, wgpack, seconds, seed, limit):
        self.wgpack, self.deadline, self.limit = wgpack, time.time() + seconds, limit
        self.rng = random.Random(seed)
        self.stats = {'iterations': 0, 'runs': {}, 'exit_codes': {}, 'failures': {}}
        self.keep = os.path.join(ROOT, 'build-mutate', 'failures')
        self.work = tempfile.mkdtemp(prefix='wgpack-mutate-')
        self.env = dict(os.environ, ASAN_OPTIONS='detect_leaks=1:exitcode=86:abort_on_error=0',
                        UBSAN_OPTIONS='halt_on_error=1:exitcode=87:print_stacktrace=1', NO_COLOR='1')

    def wg(self, args, inputs, refusal_is_one_line=True):
        name = args[0] if args[0] != '--json' else args[1]
        self.stats['runs'][name] = self.stats['runs'].get(name, 0) + 1
        try:
            p = subprocess.run([self.wgpack] + args, capture_output=True, timeout=self.limit,
                               env=self.env, cwd=self.work)
            rc, err = p.returncode, p.stderr.decode('utf-8', 'replace')
        except subprocess.TimeoutExpired:
            rc, err = 'timeout', ''
        self.stats['exit_codes'][str(rc)] = self.stats['exit_codes'].get(str(rc), 0) + 1
        why = None
        if rc == 'timeout':
            why = 'hang'
        elif rc < 0 or rc >= 128:
            why = 'signal'
        elif 'Sanitizer' in err or 'runtime error:' in err or rc in (86, 87):
            why = 'sanitizer'
        elif rc > 5:
            why = 'exit code %d' % rc
        elif rc and refusal_is_one_line and err.count('\n') != 1:
            why = 'refusal not one line'
        if why:
            self.fail(why, args, inputs, err)

    def fail(self, why, args, inputs, err):
        self.stats['failures'][why] = self.stats['failures'].get(why, 0) + 1
        n = sum(self.stats['failures'].values())
        if n > 50:
            return
        d = os.path.join(self.keep, '%03d' % n)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for src in inputs:
            dst = os.path.join(d, os.path.basename(src.rstrip('/')))
            (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dst, symlinks=True)
        with open(os.path.join(d, 'what.txt'), 'w') as f:
            f.write('%s\nwgpack %s\n\n%s' % (why, ' '.join(args), err[-4000:]))
        print('FAILURE (%s): wgpack %s -> %s' % (why, ' '.join(args), d), flush=True)

    def fresh(self, name):
        p = os.path.join(self.work, name)
        shutil.rmtree(p, ignore_errors=True)
        if os.path.exists(p):
            os.unlink(p)
        return p

    # ---- targets
    def safetensors(self):
        src = os.path.join(ROOT, 'models/tinygpt2/model.safetensors')
        data = open(src, 'rb').read()
        n, head, body = st_parts(data)
        if self.rng.random() < 0.6:
            try:
                h = mutate_json(self.rng, json.loads(head))
                head = json.dumps(h).encode()
                data = len(head).to_bytes(8, 'little') + head + body
            except (ValueError, RecursionError):
                pass
        else:
            data = mutate_bytes(self.rng, data, 0, 8 + n + 64)
        d = self.fresh('st')
        os.makedirs(d)
        shutil.copy(os.path.join(ROOT, 'models/tinygpt2/config.json'), d)
        open(os.path.join(d, 'model.safetensors'), 'wb').write(data)
        self.wg(['inspect', '--json', d], [d])
        if self.rng.random() < 0.3:
            self.wg(['build', d, '-o', self.fresh('out'), '--shard-size', '64KiB'], [d])

    def sharded(self):
        """index.json or config.json of the sharded Llama, or a symlinked shard"""
        d = self.fresh('sh')
        shutil.copytree(os.path.join(ROOT, 'models/tinyllama'), d)
        which = self.rng.choice(['model.safetensors.index.json', 'config.json', 'link'])
        if which == 'link':
            os.unlink(os.path.join(d, 'model-00002-of-00002.safetensors'))
            os.symlink(self.rng.choice(['/etc/passwd', '../x', '/dev/zero', 'model-00001-of-00002.safetensors']),
                       os.path.join(d, 'model-00002-of-00002.safetensors'))
        else:
            p = os.path.join(d, which)
            doc = mutate_json(self.rng, json.load(open(p)))
            open(p, 'w').write(json.dumps(doc))
        self.wg(['inspect', d], [d])
        if which == 'config.json' and self.rng.random() < 0.5:
            self.wg(['build', d, '-o', self.fresh('out'), '--tabs', '2'], [d])

    def onnx(self):
        seeds = [os.path.join(VAD, f) for f in ('silero_vad_v5.onnx', 'silero_vad_legacy.onnx')
                 if os.path.exists(os.path.join(VAD, f))]
        seeds.append(os.path.join(ROOT, 'models/tinyllama-onnx/model.onnx'))  # external data
        src = self.rng.choice(seeds)
        data = open(src, 'rb').read()
        lo = self.rng.choice([0, 0, self.rng.randrange(len(data))])
        data = mutate_bytes(self.rng, data, lo, lo + 4096)
        d = self.fresh('onnx')
        os.makedirs(d)
        if os.path.exists(src + '.data'):
            os.symlink(src + '.data', os.path.join(d, 'model.onnx.data'))  # outside: refused
            if self.rng.random() < 0.7:
                os.unlink(os.path.join(d, 'model.onnx.data'))
                try:
                    os.link(src + '.data', os.path.join(d, 'model.onnx.data'))
                except OSError:
                    shutil.copy(src + '.data', d + '/model.onnx.data')
        p = os.path.join(d, 'model.onnx')
        open(p, 'wb').write(data)
        self.wg(['inspect', '--json', p], [d])
        if self.rng.random() < 0.2:
            self.wg(['build', p, '-o', self.fresh('out')], [d])

    def manifest(self):
        d = self.fresh('bundle')
        shutil.copytree(self.rng.choice(self.bundles), d, symlinks=True)
        p = os.path.join(d, 'manifest.json')
        man = json.load(open(p))
        names = [t['name'] for t in man['tensors'] if t.get('format') not in (None, 'raw')]
        if self.rng.random() < 0.8:
            open(p, 'w').write(json.dumps(mutate_json(self.rng, man)))
        else:
            open(p, 'wb').write(mutate_bytes(self.rng, open(p, 'rb').read()))
        op = self.rng.randrange(3)
        if op == 0:
            self.wg(['verify-bundle', d], [d], refusal_is_one_line=False)
        elif op == 1 and names:
            o = self.fresh('kr')
            os.makedirs(o)
            self.wg(['kernel-ref', d, self.rng.choice(names), '-o', o], [d])
        else:  # the "is this directory a bundle we may replace" check
            self.wg(['build', os.path.join(ROOT, 'models/tinygpt2'), '-o', d], [d])

    def rules(self):
        p = self.fresh('rules.json')
        doc = {'family': 'gpt2', 'rules': [{'pattern': '*h.#.mlp.c_fc.weight', 'role': 'ffn_gate',
                                            'component': 'mlp', 'layout': 'in_out'}]}
        open(p, 'w').write(json.dumps(mutate_json(self.rng, doc)))
        self.wg(['inspect', '--rules', p, os.path.join(ROOT, 'models/tinygpt2')], [p])

    def setup(self):
        self.bundles = []
        for i, (m, extra) in enumerate([('models/tinygpt2', ['--compress', 'zstd']),
                                        ('models/tinyllama', ['--shard-size', '64KiB', '--tabs', '2'])]):
            out = os.path.join(self.work, 'seed%d' % i)
            subprocess.run([self.wgpack, 'build', os.path.join(ROOT, m), '-o', out] + extra,
                           check=True, capture_output=True, env=self.env)
            self.bundles.append(out)

    def loop(self):
        self.setup()
        targets = [self.safetensors, self.sharded, self.onnx, self.manifest, self.rules]
        weights = [3, 2, 3, 4, 1]
        while time.time() < self.deadline:
            self.rng.choice([t for t, w in zip(targets, weights) for _ in range(w)])()
            self.stats['iterations'] += 1
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seconds', type=float, default=60)
    ap.add_argument('--wgpack', default=os.path.join(ROOT, 'wgpack'))
    ap.add_argument('--seed', type=int, default=int(time.time()))
    ap.add_argument('--limit', type=float, default=60, help='seconds one command may take')
    ap.add_argument('--json', help='write the counts here too')
    a = ap.parse_args()
    r = Run(os.path.abspath(a.wgpack), a.seconds, a.seed, a.limit)
    t0 = time.time()
    r.loop()
    s = r.stats
    s.update(seed=a.seed, seconds=round(time.time() - t0, 1), wgpack=a.wgpack)
    runs = sum(s['runs'].values())
    print('mutate: %d inputs, %d runs of wgpack (%s) in %.0f s, seed %d' %
          (s['iterations'], runs, ', '.join('%s %d' % kv for kv in sorted(s['runs'].items())),
           s['seconds'], a.seed))
    print('exit codes: ' + ', '.join('%s: %d' % kv for kv in sorted(s['exit_codes'].items())))
    nf = sum(s['failures'].values())
    print('failures: %d%s' % (nf, (' (' + ', '.join('%s %d' % kv for kv in s['failures'].items()) +
                                   '; kept under build-mutate/failures/)') if nf else ''))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(s, f, indent=1)
    sys.exit(1 if nf else 0)


if __name__ == '__main__':
    main()
