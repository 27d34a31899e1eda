// The HTML report in Chromium: every chart with data drawn (canvas marked), no dialog, no
// error, nothing attacker text could have made (`--hostile` also expects the marker text to be
// shown as text), and a screenshot.
//   node report.mjs --file report.html [--shot out.png] [--hostile MARKER] [--zoom]
// --zoom: the page has a zoomable time series; scrolling on it must zoom and a double-click
// must reset it.
import { launch, watch, injected, fail, arg } from './lib.mjs';
import { pathToFileURL } from 'node:url';

const file = arg('file');
const shot = arg('shot');
const marker = arg('hostile');
const zoom = process.argv.includes('--zoom');
const { context, close } = await launch();
try {
  const page = await context.newPage();
  const w = watch(page);
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  const canvases = await page.locator('canvas[data-chart]').count();
  await page.waitForFunction((n) => document.body.getAttribute('data-charts-drawn') === String(n), canvases, { timeout: 20000 })
    .catch(() => fail(`not every chart drawn: ${canvases} canvases`));
  const drawn = await page.locator('canvas[data-drawn="1"]').count();
  if (drawn !== canvases) fail(`${drawn} of ${canvases} charts drawn`);
  // Hover every chart: tooltips are drawn on the canvas, nothing may run.
  for (const c of await page.locator('canvas[data-chart]').all()) {
    await c.scrollIntoViewIfNeeded();
    const box = await c.boundingBox();
    if (box) await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  }
  if (zoom) {
    const c = page.locator('canvas[data-zoom="1"]').first();
    if (!(await c.count())) fail('no zoomable chart');
    await c.scrollIntoViewIfNeeded();
    const box = await c.boundingBox();
    const zoomed = () => c.evaluate((el) => { const ch = window.Chart.getChart(el); return ch && ch.isZoomedOrPanned ? ch.isZoomedOrPanned() : null; });
    if ((await zoomed()) !== false) fail('the chart starts zoomed, or has no zoom');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -600);
    await page.waitForTimeout(300);
    if ((await zoomed()) !== true) fail('scrolling did not zoom');
    await c.dblclick();
    await page.waitForTimeout(300);
    if ((await zoomed()) !== false) fail('double-click did not reset the zoom');
  }
  if (marker) {
    const text = await page.evaluate(() => document.body.textContent);
    if (!text.includes(marker)) fail('the hostile marker is not shown as text');
  }
  for (const b of await injected(page)) fail(`injected: ${b}`);
  for (const p of w.problems()) fail(p);
  if (shot) { await page.locator('canvas[data-chart]').first().scrollIntoViewIfNeeded().catch(() => {}); await page.evaluate(() => window.scrollBy(0, -120)); await page.screenshot({ path: shot }); }
  console.log(`report: ${canvases} charts drawn`);
} finally {
  await close();
}
