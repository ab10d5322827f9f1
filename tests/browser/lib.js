// lib.js - helpers for the browser tests: the server stack (stack.py), Debian's chromium, checks.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

const REPO = path.resolve(__dirname, '..', '..');
const SHOTS = path.join(REPO, 'artifacts', 'screenshots');
const CHROMIUM = process.env.FG_CHROMIUM || '/usr/bin/chromium';
const KINDS = (process.env.FG_BROWSER_KINDS || 'apache,nginx').split(',').map((s) => s.trim()).filter(Boolean);

// ---------------------------------------------------------------- the stack

/** Starts stack.py; resolves to {info, cmd(obj), stop()} once the servers listen. */
function startStack() {
  const proc = spawn('/usr/bin/python3', [path.join(__dirname, 'stack.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, FG_BROWSER_KINDS: KINDS.join(',') },
  });
  const lines = readline.createInterface({ input: proc.stdout });
  const waiting = [];
  const queued = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l); else queued.push(l);
  });
  const next = () => new Promise((resolve, reject) => {
    if (queued.length) return resolve(queued.shift());
    const onExit = () => reject(new Error('stack.py exited'));
    proc.once('exit', onExit);
    waiting.push((l) => { proc.off('exit', onExit); resolve(l); });
  });
  let chain = Promise.resolve();
  const cmd = (obj) => {
    // one command at a time: answers come back in order
    const p = chain.then(async () => {
      proc.stdin.write(JSON.stringify(obj) + '\n');
      return JSON.parse(await next());
    });
    chain = p.catch(() => {});
    return p;
  };
  const stop = () => new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', resolve);
    proc.stdin.end();
    setTimeout(() => { if (proc.exitCode === null) proc.kill('SIGTERM'); }, 30000).unref();
  });
  return next().then((l) => {
    const info = JSON.parse(l);
    if (!info.ready) throw new Error('stack.py failed: ' + info.error);
    return { info, cmd, stop };
  });
}

// ---------------------------------------------------------------- the browser

function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * A fresh context + page that records console errors/warnings (CSP violations show up
 * there), page errors, failed requests and dialogs; `problems()` lists them.
 */
async function openPage(browser, opts = {}) {
  const context = await browser.newContext({
    viewport: opts.viewport || { width: 1280, height: 900 },
    locale: opts.locale || 'de-DE',
    javaScriptEnabled: opts.javaScript !== false,
    extraHTTPHeaders: opts.acceptLanguage ? { 'Accept-Language': opts.acceptLanguage } : undefined,
    deviceScaleFactor: opts.scale || 1,
  });
  const page = await context.newPage();
  const seen = [];
  const documents = new Set(); // pages answered with an error status on purpose (401, 429, 503)
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const where = (m.location() && m.location().url) || '';
    // Chromium logs every 4xx/5xx as "Failed to load resource"; for the error pages
    // themselves and the favicon nobody serves, that is expected.
    if (/^Failed to load resource/.test(m.text()) &&
        (documents.has(where) || /\/favicon\.ico$/.test(where))) return;
    seen.push(`console ${m.type()}: ${m.text()} (${where})`);
  });
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.status() >= 400) documents.add(r.url());
  });
  page.on('pageerror', (e) => seen.push('page error: ' + e.message));
  page.on('dialog', (d) => { seen.push('dialog: ' + d.message()); d.dismiss().catch(() => {}); });
  page.on('requestfailed', (r) => {
    const f = r.failure();
    // a navigation that replaces a still-loading page aborts it; that is no problem
    if (f && !/ERR_ABORTED/.test(f.errorText)) seen.push(`request failed: ${r.url()} ${f.errorText}`);
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.includes('/static/') && r.status() !== 200) seen.push(`static ${r.status()}: ${r.url()}`);
  });
  page.problems = () => seen.slice();
  page.context_ = context;
  return page;
}

function assertClean(page) {
  assert.deepEqual(page.problems(), [], 'console errors, CSP violations or dialogs');
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

// ---------------------------------------------------------------- checks in the page

/**
 * Contrast of every visible text against its effective background (WCAG 2.1 1.4.3):
 * returns the failures as strings. Large text (>= 24px, or >= 18.66px bold) needs 3:1.
 */
function contrastFailures(page) {
  return page.evaluate(() => {
    function rgb(c) {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    }
    function lum(c) {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
      return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
    }
    function background(el) {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    }
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.nodeValue.trim()) continue;
      const el = n.parentElement;
      const st = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (st.visibility === 'hidden' || box.width === 0 || box.height === 0 || el.closest('[hidden]')) continue;
      const fg = rgb(st.color);
      const bg = background(el);
      const l1 = lum(fg), l2 = lum(bg);
      const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      const need = large ? 3 : 4.5;
      if (ratio < need) out.push(`${ratio.toFixed(2)} < ${need} for "${n.nodeValue.trim().slice(0, 40)}" (${st.color} on rgb(${bg.r},${bg.g},${bg.b}))`);
    }
    return out;
  });
}

/** True when the page scrolls sideways (WCAG 1.4.10 reflow). */
function overflowsX(page) {
  return page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);
}

module.exports = {
  REPO, SHOTS, KINDS, startStack, launch, openPage, assertClean, shot, contrastFailures, overflowsX,
};
