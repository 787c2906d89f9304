// tools/report/check_report.mjs — render a wgpack report.html in headless Chromium, take a
// screenshot, and fail unless the page rendered with no console error, no failed request
// (it must be self-contained) and every named plot holds data.
//   node check_report.mjs REPORT.html SCREENSHOT.png PLOT_ID...
import { chromium } from 'playwright-core';
import path from 'node:path';

const [html, shot, ...plots] = process.argv.slice(2);
if (!html || !shot) {
  console.error('usage: node check_report.mjs REPORT.html SCREENSHOT.png PLOT_ID...');
  process.exit(1);
}
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run'] });
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('console', m => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  page.on('request', r => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.push(`external request: ${r.url()}`); });
  await page.goto('file://' + path.resolve(html), { waitUntil: 'load' });
  const rendered = await page.evaluate(() => document.body.dataset.rendered);
  if (rendered !== 'yes') problems.push('the page did not finish rendering');
  const counts = await page.evaluate(ids => ids.map(id => {
    const s = document.querySelector(`#${id} svg`);
    return s ? Number(s.dataset.points) : -1;
  }), plots);
  plots.forEach((id, i) => { if (!(counts[i] > 0)) problems.push(`plot '${id}' has no data (${counts[i]})`); });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ plots: Object.fromEntries(plots.map((p, i) => [p, counts[i]])), problems }));
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
