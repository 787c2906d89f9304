// tests/text/demo_page.mjs — drives the page `wgpack serve` shows in headless Chromium (WebGPU
// on SwiftShader, the flags of tools/web/run_model.mjs), as a person would: waits for the load,
// types a prompt (or two sentences), clicks, waits for the streamed text, takes a screenshot
// and reports what the page shows.
//   node tests/text/demo_page.mjs URL --shot FILE.png [--prompt TEXT --max N] [--a TEXT --b TEXT]
// Prints one JSON line: {ok, state, title, facts, progress, out, rate, cosine, chunks, error}
// (chunks: how many times the output grew while generating: more than one is streaming).
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const url = args[0], shot = opt('--shot');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: [
  '--no-sandbox', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
const result = { ok: false };
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  await page.goto(url);
  const long = { timeout: Number(process.env.DEMO_TIMEOUT_MS || 600000) };
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), null, long);
  const text = id => page.evaluate(i => document.getElementById(i).textContent, id);
  if (await page.evaluate(() => !document.getElementById('decoder').hidden)) {
    await page.fill('#prompt', '');
    await page.type('#prompt', opt('--prompt', 'def '));
    await page.fill('#max', opt('--max', '16'));
    await page.fill('#temperature', '0');
    // count how often the output grows while the answer streams in
    await page.evaluate(() => {
      window.__chunks = 0;
      new MutationObserver(() => { window.__chunks++; }).observe(document.getElementById('out'), { childList: true, characterData: true, subtree: true });
    });
    await page.click('#go');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, long);
    result.chunks = await page.evaluate(() => window.__chunks);
    result.out = await text('out');
    result.rate = await text('rate');
  } else if (await page.evaluate(() => !document.getElementById('encoder').hidden)) {
    await page.fill('#a', opt('--a', 'def add(a, b): return a + b'));
    await page.fill('#b', opt('--b', 'def plus(x, y): return x + y'));
    await page.click('#sim');
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, long);
    result.cosine = await text('cosine');
    result.rate = await text('simrate');
  }
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  Object.assign(result, { state: await page.evaluate(() => document.body.dataset.state), title: await text('name'),
                          facts: await text('facts'), progress: await text('progress'), bar: await page.evaluate(() => document.getElementById('bar').value),
                          error: (await text('error')) || errors[0] || null });
  result.ok = result.state === 'done' && !result.error;
} catch (e) {
  result.error = String(e?.message || e).split('\n')[0];
} finally { await browser.close(); }
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
