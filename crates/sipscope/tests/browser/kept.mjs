// The overview when the server answers with a report an earlier run of it kept (`serve`
// restarted on a store it served before; docs/api.md "Reports kept across restarts"), against
// a running server:
//   node kept.mjs --url 'http://ADDR:PORT/#token=…'
// The first overview answer is the server's, marked here as an earlier run's (so the check does
// not depend on how fast the server rebuilds it): the page draws it with a note saying when it
// was built, asks again by itself, and draws the fresh one without the note and without a
// reload. No dialog, console error or CSP violation throughout.
import { launch, watch, fail, arg } from './lib.mjs';

const url = arg('url');
const BUILT = '2026-12-01T00:00:00.123456789Z';
const { context, close } = await launch();

try {
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  const w = watch(page);
  let asked = 0;
  await page.route((u) => u.pathname === '/api/v1/report', async (r) => {
    asked += 1;
    const response = await r.fetch();
    const headers = response.headers();
    if (asked === 1) {
      headers['sipscope-report-earlier-run'] = 'true';
      headers['sipscope-report-built'] = BUILT;
    }
    await r.fulfill({ response, headers });
  });
  await page.goto(url, { waitUntil: 'load' });
  await page.evaluate(() => { window.__sameDocument = true; });
  const note = page.locator('[data-kept="earlier"]');
  await note.waitFor({ timeout: 60000 }).catch(() => fail('no note on a report an earlier run kept'));
  const text = await note.textContent().catch(() => '');
  if (!text.includes('2026-12-01T00:00:00Z')) fail(`the note does not say when it was built: ${text}`);
  await page.waitForSelector('[data-section="summary"] table td').catch(() => fail('the kept report was not drawn'));
  // The page asks again by itself and draws this run's report.
  await note.waitFor({ state: 'detached', timeout: 30000 }).catch(() => fail('the note stayed: the fresh report was never drawn'));
  await page.waitForSelector('[data-section="summary"] table td').catch(() => fail('the fresh report was not drawn'));
  if (asked < 2) fail(`the overview was asked for ${asked} time(s)`);
  if (!(await page.evaluate(() => window.__sameDocument === true))) fail('the page was reloaded');
  for (const p of w.problems()) fail(p);
  console.log(`OK: asked ${asked} times`);
} finally {
  await close();
}
