// Shared by the browser checks: Debian's Chromium under playwright-core with a fresh profile,
// and a watch on everything that would show script running where it must not (dialogs,
// console errors, uncaught exceptions, CSP violations).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'sipscope-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1400, height: 1000 },
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// Records what must not happen; `problems()` lists it.
export function watch(page) {
  const seen = [];
  page.on('dialog', async (d) => { seen.push(`dialog ${d.type()}: ${d.message()}`); await d.dismiss().catch(() => {}); });
  page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content.Security.Policy|Refused to/i.test(m.text())) seen.push(`console ${m.type()}: ${m.text()}`);
  });
  return {
    problems: () => seen.slice(),
    note: (s) => seen.push(s),
    // Drops what a step expected (the browser logs every 4xx answer as a console error).
    expect: (re) => { for (let i = seen.length - 1; i >= 0; i--) if (re.test(seen[i])) seen.splice(i, 1); },
  };
}

// Elements and attributes that attacker text would have made had it been parsed as HTML.
export async function injected(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('*')) {
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) bad.push(`${el.tagName} ${a.name}`);
        if (/javascript:/i.test(a.value)) bad.push(`${el.tagName} ${a.name}=${a.value}`);
      }
      if (['IMG', 'IFRAME', 'OBJECT', 'EMBED', 'SVG', 'MARQUEE', 'BLINK'].includes(el.tagName.toUpperCase())) bad.push(el.tagName);
      if (el.tagName === 'SCRIPT' && !el.src && el.type !== 'application/json' && !el.hasAttribute('data-lib')) bad.push('inline SCRIPT');
    }
    if (window.__pwned) bad.push('window.__pwned set');
    return bad;
  });
}

export function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
}

export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
