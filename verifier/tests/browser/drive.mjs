// Drives the verifier's in-person page in Debian's headless Chromium with playwright-core
// (verifier/tests/browser.rs starts the federation and runs this).
//
// The test and this driver talk by lines: the driver prints one JSON object per line on
// stdout ({"scenario": name, "wallet_url": url}, {"answer": name}, {"done": true}); the test
// acts as the citizen's wallet and answers "ok" on stdin. Anything else on stdout is a log.
//
// Environment: BASE_URL (the verifier), OPERATOR, PASSWORD, SHOTS (the screenshot folder),
// CHROMIUM (default /usr/bin/chromium).
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const shots = process.env.SHOTS;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

function say(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }
async function heard() {
  const { value, done } = await lines.next();
  if (done || value.trim() !== 'ok') { throw new Error(`the test answered ${JSON.stringify(value)}`); }
}
function log(msg) { process.stdout.write(`# ${msg}\n`); }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Root in CI containers: Chromium's sandbox needs user namespaces it may not have.
  args: ['--no-sandbox'],
});
let failed = false;
let page = null;
try {
  // A tablet in landscape.
  const context = await browser.newContext({ viewport: { width: 1024, height: 900 }, locale: 'it-IT' });
  page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') { errors.push(m.text()); } });

  // Log in, with the keyboard.
  await page.goto(`${base}/check`);
  await page.waitForSelector('input[name="username"]');
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });
  await page.fill('#username', process.env.OPERATOR);
  await page.fill('#password', process.env.PASSWORD);
  await Promise.all([page.waitForURL(`${base}/check`), page.press('#password', 'Enter')]);
  await page.waitForSelector('button[data-preset="driving_licence"]');
  await page.screenshot({ path: `${shots}/presets.png`, fullPage: true });

  const expected = {
    verified: ['verified', 'VERIFICATO'],
    declined: ['declined', 'NEGATO DAL CITTADINO'],
    refused: ['refused', 'Emittente non riconosciuto dalla federazione.'],
    unknown: ['unknown', 'IMPOSSIBILE DETERMINARE'],
    expired: ['expired', 'SESSIONE SCADUTA'],
  };
  for (const name of ['verified', 'declined', 'refused', 'unknown', 'expired']) {
    await page.goto(`${base}/check`);
    await Promise.all([page.waitForURL(/\/check\/s\//), page.click('button[data-preset="driving_licence"]')]);
    const qr = page.locator('figure.qr');
    await qr.waitFor();
    if (!(await page.locator('h1').first().innerText()).includes('Controllo patente')) { throw new Error('not the driving licence check'); }
    const walletUrl = await qr.getAttribute('data-wallet-url');
    // The QR image loaded (its size is the SVG's).
    await page.waitForFunction(() => { const i = document.querySelector('figure.qr img'); return i && i.complete && i.naturalWidth > 0; });
    if (name === 'verified') {
      // The countdown runs.
      const t0 = await page.locator('#countdown').innerText();
      await page.waitForFunction((t) => document.getElementById('countdown').textContent !== t, t0, { timeout: 5000 });
      await page.screenshot({ path: `${shots}/qr.png`, fullPage: true });
    }
    say({ scenario: name, wallet_url: walletUrl });
    await heard(); // the wallet fetched the request (not for "expired")
    if (name !== 'expired') {
      await page.waitForSelector('li[data-step="request_fetched"].current', { timeout: 10000 });
      if (name === 'verified') { await page.screenshot({ path: `${shots}/scanned.png`, fullPage: true }); }
    }
    say({ answer: name });
    await heard();
    const [look, words] = expected[name];
    await page.waitForSelector(`section.verdict[data-verdict="${look}"]`, { timeout: 15000 });
    const text = await page.locator('section.verdict').innerText();
    if (!text.includes(words)) { throw new Error(`${name}: the verdict says ${JSON.stringify(text)}`); }
    if (name === 'verified') {
      await page.waitForFunction(() => { const i = document.querySelector('img.portrait'); return i && i.complete && i.naturalWidth > 0; });
      const doc = await page.locator('[data-claim="document_number"]').innerText();
      if (doc !== 'U1A23B456C') { throw new Error(`document number ${doc}`); }
      await page.click('details.audit summary');
      await page.screenshot({ path: `${shots}/verified.png`, fullPage: true });
      await page.goto(`${page.url()}?lang=en`);
      await page.waitForSelector('section.verdict[data-verdict="verified"]');
      await page.click('details.audit summary');
      await page.screenshot({ path: `${shots}/verified-en.png`, fullPage: true });
      await page.goto(`${base}/check?lang=it`);
    } else {
      if (name === 'refused' || name === 'unknown') { await page.click('details.audit summary'); }
      await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
    }
    log(`${name}: ${text.replace(/\s+/g, ' ').trim()}`);
  }
  // The expert request: a DCQL query typed in (design/in-person.md item 5). A broken one
  // comes back with why, the text kept; a valid one shows its QR as a preset does.
  await page.goto(`${base}/check`);
  await page.click('details.expert summary');
  await page.fill('#dcql_query', '{"credentials": []}');
  await Promise.all([page.waitForLoadState('load'), page.click('button[data-expert="start"]')]);
  await page.waitForSelector('details.expert[open] p.error');
  if ((await page.inputValue('#dcql_query')) !== '{"credentials": []}') { throw new Error('the query typed was not kept'); }
  await page.screenshot({ path: `${shots}/expert-error.png`, fullPage: true });
  // The page came back 400 on purpose: Chromium logs that as a console error.
  const expected400 = errors.findIndex((e) => e.includes('status of 400'));
  if (expected400 >= 0) { errors.splice(expected400, 1); }
  await page.fill('#dcql_query', JSON.stringify({ credentials: [{ id: 'pid', format: 'dc+sd-jwt', meta: { vct_values: ['urn:eudi:pid:it:1'] }, claims: [{ path: ['birthdate'] }] }] }));
  await Promise.all([page.waitForURL(/\/check\/s\//), page.click('button[data-expert="start"]')]);
  await page.locator('figure.qr').waitFor();
  if (!(await page.locator('h1').first().innerText()).includes('Richiesta personalizzata')) { throw new Error('not the custom request'); }
  log('expert: a raw DCQL query refused with why, then run');

  // A phone-sized screen still shows the verdict first.
  await page.setViewportSize({ width: 600, height: 900 });
  await page.goto(`${base}/check`);
  await page.screenshot({ path: `${shots}/presets-narrow.png`, fullPage: true });
  if (errors.length) { throw new Error(`errors in the page: ${errors.join('; ')}`); }
  say({ done: true });
} catch (e) {
  failed = true;
  process.stderr.write(`drive.mjs: ${e && e.stack ? e.stack : e}\n`);
  if (page) {
    try {
      await page.screenshot({ path: `${shots}/failure.png`, fullPage: true });
      process.stderr.write(`drive.mjs: at ${page.url()}, screenshot ${shots}/failure.png:\n${await page.content()}\n`);
    } catch (_) { /* the page is gone */ }
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
