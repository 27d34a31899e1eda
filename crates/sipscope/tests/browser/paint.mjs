// How fast the dashboard draws, against a running server (bench/dashboard-paint.sh):
//   node paint.mjs --url 'http://ADDR:PORT/#token=…' [--rounds N] [--query 'from=…&to=…']
// Each round opens the overview in a fresh page (no cache) and prints one JSON line: the
// browser's first-contentful-paint, and the time until the overview's numbers are drawn (the
// summary card's table in the page), both in ms from the start of navigation. With --query the
// filters are set first (as the filter form keeps them), so the overview is asked for a range
// or nodes the server may not have seen.
import { launch, fail, arg } from './lib.mjs';

const url = arg('url');
const rounds = Number(arg('rounds', '5'));
const query = arg('query', '');
const { context, close } = await launch();

function filters(q) {
  const p = new URLSearchParams(q);
  return { from: p.get('from') || '', to: p.get('to') || '', nodes: p.getAll('node') };
}

try {
  for (let i = 0; i < rounds; i++) {
    const page = await context.newPage();
    page.setDefaultTimeout(60000);
    if (query) {
      // The filter form keeps its values in sessionStorage: set them before the app reads them.
      await page.addInitScript((f) => { sessionStorage.setItem('sipscope.filters', JSON.stringify(f)); }, filters(query));
    }
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForSelector('[data-section="summary"] table td', { timeout: 60000 }).catch(() => fail('no summary numbers drawn'));
    const t = await page.evaluate(() => {
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      return { fcp_ms: paint ? Math.round(paint.startTime) : null, numbers_ms: Math.round(performance.now()) };
    });
    console.log(JSON.stringify({ round: i + 1, ...t }));
    await page.close();
  }
} finally {
  await close();
}
