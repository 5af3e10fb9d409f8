// Opens a conformance HTML report in Debian's headless Chromium (playwright-core, installed by
// scripts/browser.sh under verifier/tests/browser) and checks what a reader does with it: the
// summary counts, the verdict filters, the text filter, a test's evidence unfolding. Prints one
// JSON line with what it saw; writes screenshots into SHOTS.
//
// Environment: REPORT (the report.html path), SHOTS (a folder), PLAYWRIGHT_FROM (a folder whose
// node_modules holds playwright-core), CHROMIUM (default /usr/bin/chromium).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const { chromium } = createRequire(join(process.env.PLAYWRIGHT_FROM, 'package.json'))('playwright-core');
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(pathToFileURL(process.env.REPORT).href);
  const visible = () => page.$$eval('section.t', (s) => s.filter((x) => x.style.display !== 'none').length);
  const seen = { title: await page.title(), summary: await page.textContent('.sum'), all: await visible() };
  await page.screenshot({ path: join(process.env.SHOTS, 'conformance-report.png') });
  await page.uncheck('input[value=passed]');
  seen.without_passed = await visible();
  await page.check('input[value=passed]');
  await page.fill('#q', 'FA_008');
  seen.search_fa_008 = await visible();
  await page.click('section.t:not([style*="none"]) summary');
  seen.evidence_open = await page.isVisible('section.t:not([style*="none"]) details[open] pre');
  await page.screenshot({ path: join(process.env.SHOTS, 'conformance-report-evidence.png') });
  process.stdout.write(JSON.stringify(seen) + '\n');
} finally {
  await browser.close();
}
