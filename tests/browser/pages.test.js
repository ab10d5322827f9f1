// pages.test.js - the customer's pages in headless chromium, against Apache and nginx (issue #4).
'use strict';
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  KINDS, startStack, launch, openPage, assertClean, shot, contrastFailures, overflowsX,
} = require('./lib');

const NAME = 'Erika Müller';
let stack, browser;

before(async () => {
  stack = await startStack();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

// ---------------------------------------------------------------- steps

const seconds = (t) => { const [m, s] = t.trim().split(':').map(Number); return m * 60 + s; };

function server(kind, variant = 'main') {
  return stack.info.servers[`${kind}-${variant}`];
}

async function customer(kind, variant = 'main', name = NAME) {
  const c = await stack.cmd({ cmd: 'customer', server: `${kind}-${variant}`, name });
  assert.ok(c.ok, 'customer: ' + c.error);
  return c;
}

async function app(cmd, c, extra = {}) {
  const r = await stack.cmd({ cmd, id: c.id, ...extra });
  assert.ok(r.ok, `freigabe-app ${cmd}: ${r.error || r.out}`);
}

async function noContrastProblems(page, what) {
  assert.deepEqual(await contrastFailures(page), [], 'contrast on ' + what);
}

/** Portal → login → password → approval request; ends on the wait page. */
async function toWait(page, srv, c, { shots = null, rd = '/portal/' } = {}) {
  await page.goto(srv.url + rd);
  await page.waitForURL(/\/freigabe\/login\?/);
  assert.equal(await page.getAttribute('#fg-customer', 'autocomplete'), 'username');
  assert.equal(await page.getAttribute('#fg-password', 'autocomplete'), 'current-password');
  if (shots) { await shot(page, shots + '-1-login'); await noContrastProblems(page, 'login'); }
  await page.fill('#fg-customer', c.number);
  await page.fill('#fg-password', c.password);
  await page.click('#fg-login button[type=submit]');
  await page.waitForURL(/\/freigabe\/approve/);
  if (shots) { await shot(page, shots + '-2-approve'); await noContrastProblems(page, 'approve'); }
  await page.click('#fg-approve button[type=submit]');
  await page.waitForURL(/\/freigabe\/wait/);
}

async function code(page) {
  const shown = (await page.textContent('#fg-code')).trim();
  assert.match(shown, /^\d{3} \d{3}$/, 'the code is grouped for reading');
  return shown.replace(/\D/g, '');
}

async function expectPortal(page) {
  await page.waitForURL(/\/portal\//, { timeout: 20000 });
  await page.getByText(`Willkommen, ${NAME}`).waitFor();
}

// ---------------------------------------------------------------- tests

for (const kind of KINDS) {
  describe(kind, () => {
    it('journey: portal, login, approval in the app, back on the portal by itself', async () => {
      const page = await openPage(browser);
      const c = await customer(kind);
      await toWait(page, server(kind), c, { shots: `${kind}-journey` });
      assert.equal(await page.getAttribute('#fg-status', 'aria-live'), 'polite');
      const first = seconds(await page.textContent('#fg-countdown'));
      assert.ok(first <= 120 && first >= 110, 'countdown starts at 2:00, got ' + first);
      await page.waitForTimeout(2200);
      const second = seconds(await page.textContent('#fg-countdown'));
      assert.ok(second < first, `countdown runs: ${first} then ${second}`);
      await shot(page, `${kind}-journey-3-wait`);
      await noContrastProblems(page, 'wait');
      await app('approve', c, { code: await code(page) });
      await expectPortal(page);
      await shot(page, `${kind}-journey-4-portal`);
      await page.click('text=Abmelden');
      await page.getByRole('heading', { name: 'Abgemeldet' }).waitFor();
      await shot(page, `${kind}-journey-5-logged-out`);
      await noContrastProblems(page, 'logged out');
      assertClean(page);
      await page.context_.close();
    });

    it('polling: follows the interval and slow_down from the status endpoint', async () => {
      const page = await openPage(browser);
      const c = await customer(kind);
      const polls = [];
      let answered = 0;
      // the second answer is a slow_down asking for 4 s; every other one is the server's own
      await page.route('**/freigabe/status*', async (route) => {
        polls.push(Date.now());
        answered += 1;
        if (answered === 2) {
          await route.fulfill({ status: 200, contentType: 'application/json',
            body: JSON.stringify({ status: 'slow_down', expires_in: 100, interval: 4 }) });
        } else {
          await route.continue();
        }
      });
      await toWait(page, server(kind), c);
      const deadline = Date.now() + 15000;
      while (polls.length < 3 && Date.now() < deadline) await page.waitForTimeout(200);
      assert.ok(polls.length >= 3, 'the page polls: ' + polls.length);
      const gaps = polls.slice(1).map((t, i) => (t - polls[i]) / 1000);
      assert.ok(gaps[0] >= 1.8, 'the first gap keeps the 2 s interval: ' + gaps);
      assert.ok(gaps[1] >= 3.8, 'after slow_down the page waits the 4 s it was told: ' + gaps);
      assert.match(await page.textContent('#fg-status'), /Warten auf Ihre Bestätigung/);
      assertClean(page);
      await page.context_.close();
    });

    it('wrong password: one generic message, fields marked, focus on the password', async () => {
      const page = await openPage(browser);
      const c = await customer(kind);
      await page.goto(server(kind).url + '/freigabe/login?rd=%2Fportal%2F');
      await page.fill('#fg-customer', c.number);
      await page.fill('#fg-password', 'falsch');
      await page.click('#fg-login button[type=submit]');
      await page.locator('.fg-error').waitFor();
      assert.equal((await page.textContent('[role=alert]')).trim(),
        'Versicherungsnummer oder Passwort ist nicht korrekt.');
      assert.equal(await page.inputValue('#fg-customer'), c.number);
      assert.equal(await page.getAttribute('#fg-password', 'aria-invalid'), 'true');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'fg-password');
      await shot(page, `${kind}-login-error`);
      await noContrastProblems(page, 'login error');
      assertClean(page);
      await page.context_.close();
    });

    it('phone width: keyboard order, no sideways scrolling, denial in the app', async () => {
      const page = await openPage(browser, { viewport: { width: 375, height: 740 }, scale: 2 });
      const c = await customer(kind);
      await page.goto(server(kind).url + '/freigabe/login');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'fg-customer');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'fg-password');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Anmelden');
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
      assert.notEqual(outline, 'none', 'focus is visible');
      assert.equal(await overflowsX(page), false, 'login fits 375 px');
      await shot(page, `${kind}-mobile-1-login`);
      await page.setViewportSize({ width: 320, height: 640 }); // = 1280 px at 400 % zoom
      assert.equal(await overflowsX(page), false, 'login reflows at 320 px');
      await page.setViewportSize({ width: 375, height: 740 });
      await page.fill('#fg-customer', c.number);
      await page.fill('#fg-password', c.password);
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/freigabe\/approve/);
      await shot(page, `${kind}-mobile-2-approve`);
      await page.click('#fg-approve button[type=submit]');
      await page.waitForURL(/\/freigabe\/wait/);
      assert.equal(await overflowsX(page), false, 'wait page fits 375 px');
      await shot(page, `${kind}-mobile-3-wait`);
      await app('deny', c);
      await page.getByText('Die Anmeldung wurde in der App abgelehnt.', { exact: false }).waitFor({ timeout: 15000 });
      assert.equal(await page.isVisible('#fg-relogin a'), true, 'offers a new login');
      assert.equal(await page.isVisible('#fg-finish'), false);
      assert.equal(await page.isVisible('#fg-code'), false);
      await shot(page, `${kind}-mobile-4-denied`);
      await noContrastProblems(page, 'denied');
      await page.click('#fg-relogin a');
      await page.waitForURL(/\/freigabe\/login/);
      assertClean(page);
      await page.context_.close();
    });

    it('expired: says so, and a new request works', async () => {
      const page = await openPage(browser);
      const c = await customer(kind, 'short');
      await toWait(page, server(kind, 'short'), c);
      const old = await code(page);
      await page.locator('#fg-retry').waitFor({ state: 'visible', timeout: 20000 });
      assert.match(await page.textContent('#fg-status'), /Die Freigabe ist abgelaufen/);
      assert.equal(await page.textContent('#fg-countdown'), '0:00');
      await shot(page, `${kind}-expired`);
      await noContrastProblems(page, 'expired');
      await page.click('#fg-retry button');
      await page.waitForURL(/\/freigabe\/wait/);
      await page.waitForFunction(() => document.getElementById('fg-wait').dataset.status === 'authorization_pending');
      const fresh = await code(page);
      assert.ok(seconds(await page.textContent('#fg-countdown')) > 0);
      assert.equal(await page.isVisible('#fg-retry'), false);
      if (fresh === old) console.log('(the new code happens to equal the old one)');
      await app('approve', c, { code: fresh });
      await expectPortal(page);
      assertClean(page);
      await page.context_.close();
    });

    it('superseded by a newer request elsewhere: says so', async () => {
      const a = await openPage(browser);
      const b = await openPage(browser);
      const c = await customer(kind);
      await toWait(a, server(kind), c);
      await toWait(b, server(kind), c);
      await a.getByText('durch eine neuere Anforderung ersetzt', { exact: false }).waitFor({ timeout: 15000 });
      await shot(a, `${kind}-superseded`);
      await app('approve', c, { code: await code(b) });
      await expectPortal(b);
      assertClean(a);
      assertClean(b);
      await a.context_.close();
      await b.context_.close();
    });

    it('without JavaScript: the page refreshes itself and offers "Weiter"', async () => {
      const page = await openPage(browser, { javaScript: false });
      const c = await customer(kind);
      await toWait(page, server(kind), c);
      const t1 = seconds(await page.textContent('#fg-countdown'));
      assert.equal(await page.isVisible('#fg-finish'), false);
      await shot(page, `${kind}-nojs-1-wait`);
      await app('approve', c, { code: await code(page) });
      await page.locator('#fg-finish button').waitFor({ state: 'visible', timeout: 15000 });
      assert.ok(seconds(await page.textContent('#fg-countdown')) <= t1);
      assert.match(await page.textContent('#fg-status'), /Freigegeben/);
      await shot(page, `${kind}-nojs-2-approved`);
      await page.click('#fg-finish button');
      await expectPortal(page);
      assertClean(page);
      await page.context_.close();
    });

    it('English: by Accept-Language, and the switch keeps the language through the flow', async () => {
      const en = await openPage(browser, { locale: 'en-GB', acceptLanguage: 'en-GB,en;q=0.9' });
      await en.goto(server(kind).url + '/freigabe/login');
      assert.equal(await en.getAttribute('html', 'lang'), 'en');
      await en.getByRole('heading', { name: 'Log in' }).waitFor();
      assert.equal(await en.textContent('#fg-login button'), 'Log in');
      assertClean(en);
      await en.context_.close();

      const page = await openPage(browser); // German browser, English chosen on the page
      const c = await customer(kind);
      await page.goto(server(kind).url + '/portal/');
      await page.waitForURL(/\/freigabe\/login/);
      await page.click('.fg-lang a');
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      await page.fill('#fg-customer', c.number);
      await page.fill('#fg-password', c.password);
      await page.click('#fg-login button');
      await page.getByRole('heading', { name: 'Confirm the login in the app' }).waitFor();
      await page.click('#fg-approve button');
      await page.getByText('Your code').waitFor();
      assert.equal(await page.getAttribute('html', 'lang'), 'en');
      assert.match(await page.textContent('#fg-status'), /Waiting for your confirmation/);
      await shot(page, `${kind}-english-wait`);
      await app('approve', c, { code: await code(page) });
      await expectPortal(page);
      assertClean(page);
      await page.context_.close();
    });

    it('markup in the customer number and in rd is shown escaped, never run', async () => {
      const page = await openPage(browser);
      const evil = '"><img src=x onerror=alert(1)><script>alert(2)</script>';
      const rd = '/portal/"><script>alert(3)</script><img src=x onerror=alert(4)>';
      await page.goto(server(kind).url + '/freigabe/login?rd=' + encodeURIComponent(rd));
      const rdField = await page.getAttribute('input[name=rd]', 'value');
      assert.ok(rdField === rd || rdField === '/', 'rd is kept literally or replaced: ' + rdField);
      await page.fill('#fg-customer', evil);
      await page.fill('#fg-password', 'whatever');
      await page.click('#fg-login button');
      await page.locator('.fg-error').waitFor();
      assert.equal(await page.inputValue('#fg-customer'), evil, 'shown as typed');
      const counts = await page.evaluate(() => ({
        img: document.querySelectorAll('img').length,
        script: document.querySelectorAll('script').length,
      }));
      assert.deepEqual(counts, { img: 0, script: 0 });
      await shot(page, `${kind}-escaped`);
      assertClean(page); // also: no alert() dialog
      await page.context_.close();
    });

    it('too many attempts (429) and service unavailable (503): clear pages with a way forward', async () => {
      const page = await openPage(browser);
      const c = await customer(kind);
      for (let i = 0; i < 6; i++) {
        await page.goto(server(kind).url + '/freigabe/login');
        await page.fill('#fg-customer', c.number);
        await page.fill('#fg-password', 'falsch-' + i);
        const [resp] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === 'POST'),
          page.click('#fg-login button'),
        ]);
        if (resp.status() === 429) break;
      }
      await page.getByRole('heading', { name: 'Zu viele Versuche' }).waitFor();
      assert.equal(await page.isVisible('a.fg-button'), true);
      await shot(page, `${kind}-429`);
      await noContrastProblems(page, '429');
      await page.goto(server(kind, 'down').url + '/portal/');
      await page.getByRole('heading', { name: 'Vorübergehend nicht verfügbar' }).waitFor();
      assert.equal((await page.textContent('a.fg-button')).trim(), 'Erneut versuchen');
      await shot(page, `${kind}-503`);
      await noContrastProblems(page, '503');
      const problems = page.problems().filter((p) => !/status of (429|503)/.test(p));
      assert.deepEqual(problems, []);
      await page.context_.close();
    });

    it('branding: logo, colours and texts from the branding directory, escaped', async () => {
      const page = await openPage(browser);
      await page.goto(server(kind, 'brand').url + '/freigabe/login');
      const logo = page.locator('img.fg-logo');
      assert.match(await logo.getAttribute('src'), /^\/freigabe\/static\/logo\.svg\?v=[0-9a-f]{16}$/);
      assert.equal(await logo.getAttribute('alt'), 'Muster <Versicherung> & Co');
      assert.ok(await logo.evaluate((i) => i.complete && i.naturalWidth > 0), 'logo loads');
      assert.equal(await page.textContent('#fg-login button'), 'Jetzt anmelden');
      assert.equal((await page.textContent('.fg-footer')).trim(),
        'Fragen? Kundenservice 0800 123 456 (kostenlos)');
      // markup in an admin's text is text: in the title as in the logo's alt
      assert.equal(await page.title(), 'Anmelden – Muster <Versicherung> & Co');
      assert.equal(await page.locator('b').count(), 0);
      assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('#fg-login button')).backgroundColor),
        'rgb(15, 92, 76)');
      await shot(page, `${kind}-branded-login`);
      await noContrastProblems(page, 'branded login');
      await page.goto(server(kind, 'brand').url + '/freigabe/login?lang=en');
      assert.equal(await page.textContent('#fg-login button'), 'Sign in now');
      assertClean(page);
      await page.context_.close();
    });
  });
}
